/* net/h1f.c: see h1f.h. */
#include "net/h1f.h"

#include <string.h>

/* RFC 9110 tchar */
static bool
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_path_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '_' || c == '.' || c == '/' || c == '-';
}

static bool
is_value_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c < 0x7f);
}

/* ASCII case-insensitive p[0..n) == s */
static bool
lc_is(const char *p, size_t n, const char *s)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)s[i])
			return false;
	}
	return true;
}

/* The path of "GET <path> HTTP/1.1\r\n" at buf; returns the offset after the line, 0 when the
 * line is not one this module serves. */
static size_t
request_line(const char *buf, size_t n, struct h1f_req *out)
{
	static const char version[] = " HTTP/1.1\r\n";
	if (n < 5 || memcmp(buf, "GET /", 5) != 0)
		return 0;
	size_t i = 4;
	for (; i < n && buf[i] != ' '; i++) {
		if (!is_path_char((unsigned char)buf[i]) || i - 4 >= H1F_PATH_MAX)
			return 0;
		if (i > 4 && buf[i - 1] == '/' && (buf[i] == '/' || buf[i] == '.'))
			return 0; /* "//" or a dot segment: h2o normalises those */
	}
	if (n - i < sizeof version - 1 || memcmp(buf + i, version, sizeof version - 1) != 0)
		return 0;
	out->path = buf + 4;
	out->path_len = i - 4;
	return i + sizeof version - 1;
}

/* One header line at buf[*i]; false when it is not one this module serves. */
static bool
header_line(const char *buf, size_t n, size_t *i, bool *seen_connection, bool *keep_alive)
{
	size_t p = *i, name = p;
	while (p < n && is_tchar((unsigned char)buf[p]))
		p++;
	if (p == name || p >= n || buf[p] != ':')
		return false;
	size_t name_len = p - name;
	p++;
	while (p < n && (buf[p] == ' ' || buf[p] == '\t'))
		p++;
	size_t value = p;
	while (p < n && is_value_char((unsigned char)buf[p]))
		p++;
	if (n - p < 2 || buf[p] != '\r' || buf[p + 1] != '\n')
		return false;
	size_t end = p;
	while (end > value && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
		end--;
	*i = p + 2;
	const char *nm = buf + name;
	if (lc_is(nm, name_len, "content-length") || lc_is(nm, name_len, "transfer-encoding") ||
	    lc_is(nm, name_len, "expect") || lc_is(nm, name_len, "upgrade") ||
	    lc_is(nm, name_len, "http2-settings") || lc_is(nm, name_len, "te"))
		return false;
	if (lc_is(nm, name_len, "connection")) {
		if (*seen_connection)
			return false;
		*seen_connection = true;
		if (lc_is(buf + value, end - value, "close"))
			*keep_alive = false;
		else if (!lc_is(buf + value, end - value, "keep-alive"))
			return false;
	}
	return true;
}

enum h1f_verdict
h1f_parse(const char *buf, size_t len, struct h1f_req *out)
{
	size_t n = len < H1F_HEAD_MAX ? len : H1F_HEAD_MAX;
	struct h1f_req r = {.keep_alive = true};
	size_t i = request_line(buf, n, &r);
	if (i == 0)
		return H1F_PASS;
	bool seen_connection = false;
	for (unsigned h = 0;; h++) {
		if (n - i < 2)
			return H1F_PASS;
		if (buf[i] == '\r' && buf[i + 1] == '\n')
			break;
		if (h == H1F_HEADERS_MAX ||
		    !header_line(buf, n, &i, &seen_connection, &r.keep_alive))
			return H1F_PASS;
	}
	r.head_len = i + 2;
	*out = r;
	return H1F_GET;
}
