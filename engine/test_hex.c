/* Unit test: engine/hex.h round trips and rejections. */
#include <errno.h>

#include "engine/hex.h"
#include "tests/lib/check.h"

static void
encodes_lowercase_and_round_trips(void)
{
	uint8_t in[256], back[256];
	char txt[513];
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	hex_encode(txt, in, sizeof in);
	CHECK(strncmp(txt, "000102", 6) == 0 && strcmp(txt + 506, "fdfeff") == 0, "encoding: %.12s",
	      txt);
	CHECK(hex_decode(back, sizeof back, txt, 512, NULL) == 256, "decode length");
	CHECK_MEM(in, back, 256, "round trip");
	CHECK(hex_decode(back, 1, "AbCd", 0, NULL) == 0, "empty input decodes to nothing");
	CHECK(hex_decode(back, 2, "AbCd", 4, NULL) == 2 && back[0] == 0xab && back[1] == 0xcd,
	      "upper case accepted");
}

static void
rejects_odd_length_bad_digit_and_overflow(void)
{
	uint8_t out[4];
	size_t bad = 99;
	CHECK(hex_decode(out, sizeof out, "abc", 3, &bad) == -EINVAL && bad == 3, "odd length");
	CHECK(hex_decode(out, sizeof out, "abzz", 4, &bad) == -EINVAL && bad == 2,
	      "bad digit at %zu", bad);
	CHECK(hex_decode(out, sizeof out, "0 12", 4, &bad) == -EINVAL && bad == 1, "space");
	CHECK(hex_decode(out, sizeof out, "0011223344", 10, NULL) == -ENOSPC, "too long for cap");
}

int
main(void)
{
	RUN(encodes_lowercase_and_round_trips);
	RUN(rejects_odd_length_bad_digit_and_overflow);
	return check_done();
}
