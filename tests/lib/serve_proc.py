"""tests/lib/serve_proc.py: `birch serve` as a child process for the integration tests: started
on 127.0.0.1 with an ephemeral port read from its 'listening on' line (bounded wait), its log
lines collected, stopped with a signal and a bounded wait."""
import re, signal, subprocess, threading, time


class ServeProc:
    def __init__(self, birch, args, env=None, stdout=None):
        self.lines = []
        self.args = [birch, "serve", "--listen", "127.0.0.1:0", *args]
        self.p = subprocess.Popen(self.args, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                  env=env)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline and self.port is None and self.p.poll() is None:
            for line in list(self.lines):
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
                if m:
                    self.port = int(m.group(1))
            time.sleep(0.05)
        if self.port is None:
            print("".join(self.lines))
            raise SystemExit("server did not start")

    def _read(self):
        for line in self.p.stderr:
            self.lines.append(line)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.p.send_signal(sig)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None
