// Preloaded (node -r) into a CLI run the suite times: writes the process's peak RSS to the file
// BENCH_RSS_FILE names when it exits, since a parent cannot read a child's resource usage in Node.
// On Linux it is VmHWM of /proc/self/status, the peak of this process's own memory: a child that Node
// spawns starts in its parent's address space (vfork-style), and getrusage's ru_maxrss
// (process.resourceUsage().maxRSS) keeps that address space's peak across exec, so it reports the
// parent's RSS whenever that is larger (measured: 297 MB in a child of a 336 MB parent whose own
// VmHWM was 40 MB). Elsewhere maxRSS is the only figure there is.
const { readFileSync, writeFileSync } = require('node:fs');

function peakRss() {
  try {
    const hwm = /^VmHWM:\s*(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return { maxRSS: Number(hwm[1]) * 1024, source: 'VmHWM' };
  } catch {
    // not Linux
  }
  return { maxRSS: process.resourceUsage().maxRSS * 1024, source: 'maxRSS' };
}

process.on('exit', () => writeFileSync(process.env.BENCH_RSS_FILE, JSON.stringify(peakRss())));
