// Preloaded into a server process (NODE_OPTIONS=--import=…) when the benchmark runs with
// --cpu-prof: node refuses --cpu-prof itself in NODE_OPTIONS, and the server apps are
// spawned by the shared CLI with fixed arguments. Same result: a V8 .cpuprofile written
// at exit (open it in Chrome DevTools or speedscope), to SOCKETLAB_CPU_PROFILE.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const target = process.env.SOCKETLAB_CPU_PROFILE;
if (target) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
  session.post('Profiler.start');
  // The in-process session answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(target, JSON.stringify(result.profile));
    });
  });
}
