#!/usr/bin/perl
# The launcher of daemontools in Deno, written by scripts/build.sh (Deno and entry filled in).
# Program links point here; it runs the program they are named for (its name goes first in
# the arguments) with Deno, after two things the runtime would otherwise get wrong
# (docs/launcher.md):
# - Descriptors 0-2 the caller left closed: Deno (Rust) reopens them on /dev/null, where
#   writes succeed. They are opened on /dev/null the other way round instead (stdin for
#   writing, stdout and stderr for reading), so reads and writes fail with EBADF as on a
#   closed descriptor, and named in DAEMONTOOLS_LAUNCH so children get them closed.
# - The runtime's own variables (DENO_* but DENO_DIR, RUST_*, NO_COLOR) steer or stop Deno
#   (a bad DENO_V8_FLAGS ends every start). They are kept from the runtime; the caller's
#   environment, every byte in order, goes to the program in a memfd named in
#   DAEMONTOOLS_LAUNCH, and from there to every child.
# No module is loaded: this costs what /usr/bin/env did.
my $deno  = '@DENO@';
my $entry = '@ENTRY@';
my @me = stat($0);
my @closed;
my $procfd = -d "/proc/self/fd";
for my $fd (0 .. 2) {
  next unless $procfd;
  if (!-l "/proc/self/fd/$fd") { push @closed, $fd; next }
  # perl reads this script through the lowest free descriptor: one of 0-2 if one was closed
  my @s = stat("/proc/self/fd/$fd");
  push @closed, $fd if @me && @s && $s[0] == $me[0] && $s[1] == $me[1];
}
my $envfd = -1;
if (open(my $e, "<:raw", "/proc/self/environ")) {
  local $/;
  my $env = <$e>;
  close $e;
  my $name = "daemontools-env";
  my $m = syscall(319, $name, 0);    # memfd_create
  if ($m >= 0) {
    my $off = 0;
    while ($off < length $env) {
      my $n = syscall(1, $m, substr($env, $off), length($env) - $off);    # write
      last if $n <= 0;
      $off += $n;
    }
    if ($m < 3) {                      # keep it off 0-2 (F_DUPFD from 3)
      my $d = syscall(72, $m, 0, 3);
      syscall(3, $m);
      $m = $d;
    }
    $envfd = $m;
  }
}
for my $fd (@closed) {
  syscall(3, $fd);
  my $path = "/dev/null";
  my $dup = syscall(2, $path, $fd == 0 ? 1 : 0, 0);    # open: the lowest free, here $fd
  if ($dup >= 0 && $dup != $fd) { syscall(33, $dup, $fd); syscall(3, $dup) }
}
for (keys %ENV) { delete $ENV{$_} if /^(?:DENO_(?!DIR$)|RUST_|NO_COLOR$)/ }
$ENV{DAEMONTOOLS_LAUNCH} =
  join(" ", $envfd, join(",", @closed) || "-", @me ? "$me[0]:$me[1]" : "-", $0);
my $name = $0;
$name =~ s{.*/}{};
my @flags = ("run", "-A", "--no-config", "--no-lock", "--quiet");
# svscan lives long: a small young generation keeps it small (docs/svscan.md)
push @flags, "--v8-flags=--max-semi-space-size=1"
  if $name eq "svscan" || (@ARGV && $ARGV[0] =~ m{(?:^|/)svscan$});
exec {$deno} $deno, @flags, $entry, $name, @ARGV;
print STDERR "$name: fatal: unable to run $deno: $!\n";
exit 111;
