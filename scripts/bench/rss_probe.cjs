// Preloaded (node -r) into a CLI run the suite times: writes the process's peak RSS to the file
// BENCH_RSS_FILE names when it exits, since a parent cannot read a child's resource usage in Node.
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  // maxRSS is in kilobytes.
  writeFileSync(process.env.BENCH_RSS_FILE, JSON.stringify({ maxRSS: process.resourceUsage().maxRSS * 1024 }));
});
