/**
 * What `sealstream emit` tells a person when it ends: one line of outcomes (accepted, duplicates,
 * refused by reason) and the exit code a script sees. Pure, so the CLI only prints and exits.
 */
import type { EmitSummary } from './run-emit.js';

/**
 * 0 when everything sent was delivered; 1 when anything was refused for good, or never acknowledged
 * (a hub that is down or never answered: a script must not take that run for a success), or the legacy
 * AUTH failed.
 */
export function emitExitCode(summary: EmitSummary): number {
  if (summary.mode === 'legacy') return summary.authFailed ? 1 : 0;
  return summary.rejected > 0 || summary.sent - summary.acked - summary.rejected > 0 ? 1 : 0;
}

export function describeEmitSummary(summary: EmitSummary): string {
  if (summary.mode === 'legacy') {
    return summary.authFailed
      ? 'emit: the listener refused the AUTH token (AUTH_FAIL): nothing was delivered'
      : `emit: ${summary.messages} messages in ${summary.bursts} burst${summary.bursts === 1 ? '' : 's'} (${summary.tampered} tampered on purpose)`;
  }
  const accepted = summary.acked - summary.duplicates;
  const parts = [`${accepted} accepted`, `${summary.duplicates} duplicates`, `${summary.rejected} refused`];
  const reasons = Object.entries(summary.refusedByReason).map(([reason, count]) =>
    reason === 'in_ack'
      ? `${count} one by one in ACKs (e.g. device_not_allowed: the key may not speak for the device id; ` +
        'the hub keeps each reason in its dead letters, GET /api/v1/dead-letters)'
      : `${count} ${reason}`,
  );
  const unsent = summary.sent - summary.acked - summary.rejected;
  return (
    `emit: ${parts.join(', ')}${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}` +
    (unsent > 0 ? `; ${unsent} not acknowledged when the run ended` : '') +
    (unsent > 0 && summary.acked + summary.rejected === 0
      ? ' (the hub never answered: is it running, and are --host/--port, or --mqtt-url, where it listens?)'
      : '')
  );
}
