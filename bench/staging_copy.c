/*
 * What the staging file of a lossless hosted logger costs in the kernel (lib/multilog/hosted.ts),
 * without Deno: a reader of a pipe `cat` fills, four ways. CPU per MB of this process:
 *   0  read(2) into a buffer (a multilog process)
 *   1  tee(2) into a private pipe + read the copy + splice(2) into a file, the file cut back
 *      each MiB (the staging file before it was used round)
 *   2  the same, the file used round: the next MiB goes over the last one's pages
 *   3  as 2, the bytes first written there with pwrite(2) (the marks; the design before splice
 *      first)
 *   4  splice(2) onto the end of the file, then pread(2) back; the file cut back each MiB
 *      (lib/multilog/hosted.ts now)
 *   5  as 4, the file used round (not cut: a floor; a splice cut short could not be measured)
 * Usage (gcc is not needed by the project; this is only a measurement):
 *   gcc -O2 -o /tmp/staging_copy bench/staging_copy.c
 *   for m in 0 1 2 3 4 5; do cat BIGFILE | /tmp/staging_copy $m /tmp/stage.tmp; done
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static double cpu_ms(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 +
         (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv) {
  if (argc != 3) return 100;
  int mode = atoi(argv[1]);
  const long ROUND = getenv("ROUND") ? atol(getenv("ROUND")) : 1 << 20, HDR = 4096, CHUNK = 262144;
  static char buf[262144];
  int q[2];
  if (pipe(q) < 0) return 111;
  fcntl(0, F_SETPIPE_SZ, CHUNK);
  fcntl(q[1], F_SETPIPE_SZ, CHUNK);
  int f = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (f < 0) return 111;
  long total = 0;
  off_t end = HDR;
  double t0 = cpu_ms();
  for (;;) {
    ssize_t n;
    if (mode == 0) {
      n = read(0, buf, sizeof buf);
      if (n <= 0) break;
    } else if (mode >= 4) {
      loff_t o = end;
      n = splice(0, NULL, f, &o, CHUNK, 0);
      if (n <= 0) break;
      if (pread(f, buf, n, end) != n) return 111;
      end = o;
      if (end > HDR + ROUND) {
        if (mode == 4) ftruncate(f, HDR);
        end = HDR;
      }
    } else {
      n = tee(0, q[1], CHUNK, 0);
      if (n <= 0) break;
      for (ssize_t got = 0; got < n;) got += read(q[0], buf + got, n - got);
      if (mode == 3) pwrite(f, buf, n, end);
      loff_t o = end;
      for (ssize_t left = n; left > 0;) {
        ssize_t s = splice(0, NULL, f, &o, left, 0);
        if (s <= 0) return 111;
        left -= s;
      }
      end = o;
      if (end > HDR + ROUND) {
        if (mode == 1) ftruncate(f, HDR);
        end = HDR;
      }
    }
    total += n;
  }
  fprintf(stderr, "mode %d: %.0f MB, %.3f ms/MB\n", mode, total / 1e6, (cpu_ms() - t0) / (total / 1e6));
  unlink(argv[2]);
  return 0;
}
