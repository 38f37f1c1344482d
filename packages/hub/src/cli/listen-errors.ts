/**
 * What a person reads when a start fails because a listener cannot have its port: the port, the flag
 * that chose it and what to do. Node's own "listen EADDRINUSE: address already in use 127.0.0.1:8080"
 * names none of that for someone who ran `npm start` a second time.
 */
import type { HubConfig } from '../config/hub-config.js';

type ListenPorts = Pick<HubConfig, 'httpPort' | 'tcpPort' | 'legacyPort' | 'monitorPort'>;

/** The message for a listen failure (port taken or not permitted), or undefined for any other error. */
export function describeListenError(error: unknown, ports: ListenPorts): string | undefined {
  const failure = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (failure?.syscall !== 'listen' || (failure.code !== 'EADDRINUSE' && failure.code !== 'EACCES')) return undefined;
  const port = failure.port;
  const flags = (
    [
      ['--http-port', ports.httpPort],
      ['--tcp-port', ports.tcpPort],
      ['--legacy-port', ports.legacyPort],
      ['--monitor-port', ports.monitorPort],
    ] as const
  )
    .filter(([, configured]) => configured === port)
    .map(([flag]) => flag);
  const flag = flags.length > 0 ? flags.join(' / ') : 'port flag';
  const where = `port ${port ?? '?'} on ${failure.address ?? '?'}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`;
  // Every door but the HTTP port may also be turned off.
  const off = flags.length > 0 && !flags.includes('--http-port') ? ', "off" closes that door' : '';
  if (failure.code === 'EADDRINUSE') {
    return (
      `${where} is already in use (EADDRINUSE): another program, perhaps another hub, listens there. ` +
      `Stop it, or start this hub with another ${flag} (0 takes any free port${off})`
    );
  }
  return `${where} may not be opened by this user (EACCES; ports below 1024 need privileges): choose another ${flag}`;
}
