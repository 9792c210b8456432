/**
 * SIGTERM/SIGINT: stop accepting connections, let the requests already taken finish (drain), release the session,
 * exit 0. A second signal exits at once (128 + the signal's number, as a shell reports it), for an operator who
 * does not want to wait. systemd's TimeoutStopSec bounds the drain from outside.
 */
import type { Server } from 'node:http';
import { constants } from 'node:os';
import type { App } from './app.js';
import type { LoadedModel } from './model.js';

export function exitOnSignals(server: Server, app: App, model: LoadedModel, log: (line: string) => void): void {
  let stopping = false;
  const stop = (signal: 'SIGTERM' | 'SIGINT'): void => {
    if (stopping) {
      log(`${signal} again: exiting without waiting for ${app.openRequests} request(s)`);
      process.exit(128 + constants.signals[signal]);
    }
    stopping = true;
    log(`${signal}: draining ${app.openRequests} request(s) in flight`);
    // No new connections; idle keep-alive ones are closed by close(), busy ones once their response is sent.
    server.close();
    void app
      .drain()
      .then(() => {
        server.closeAllConnections();
        return Promise.all([model.session.release(), model.decoder.close()]);
      })
      .then(
        () => {
          log('drained; session released; exiting');
          process.exit(0);
        },
        (e: unknown) => {
          console.error(`factory-node: shutdown failed: ${(e as Error).message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
