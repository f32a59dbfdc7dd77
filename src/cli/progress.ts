import type { OutStream } from './io.ts';

export interface Progress {
  /** Clears the spinner; the caller then prints its result line. */
  stop(): void;
  /** Shows what the work is doing now (e.g. "restoring 3/12 tables"). */
  update?(detail: string): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[K';

/**
 * A spinner with elapsed seconds on a TTY; elsewhere (CI logs, pipes) one plain line,
 * because carriage-return animations turn into noise in a log file.
 */
export function startProgress(stream: OutStream, text: string, now: () => number): Progress {
  if (!stream.isTTY) {
    stream.write(`${text}\n`);
    let last = '';
    // In a log, one line per change of phase, not one per poll.
    return {
      stop() {},
      update(detail) {
        const phase = detail.split(':')[0] ?? detail;
        if (phase !== last) stream.write(`  ${detail}\n`);
        last = phase;
      },
    };
  }
  const started = now();
  let frame = 0;
  let detail = '';
  const draw = () => {
    const seconds = ((now() - started) / 1000).toFixed(1);
    stream.write(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} ${text} ${seconds}s${detail ? ` · ${detail}` : ''}`);
  };
  draw();
  const timer = setInterval(draw, 100);
  // A spinner must never keep the process alive on its own.
  timer.unref?.();
  let stopped = false;
  return {
    update(newDetail) {
      detail = newDetail;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stream.write(CLEAR_LINE);
    },
  };
}

/** Runs `work` under a progress indicator and always clears it, also on failure. */
export async function withProgress<T>(progress: Progress, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    progress.stop();
  }
}
