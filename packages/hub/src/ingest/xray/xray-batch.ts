/**
 * Many signed XRayIOT messages handled as one burst (the AMQP deliveries of one event-loop turn): each
 * is authenticated and checked on its own exactly as handleSignedMessage does (same refusals, same
 * nonce rules), then the readings and summaries of all that passed go to the pipeline as one submission
 * (one transaction holds both), so a burst waits for one commit instead of one per message. Answers come
 * back one per message, in order; 'stored' means its readings and its summary are committed.
 *
 * `patient` (the AMQP consumer: a broker backlog under a prefetch window): the submissions join the next
 * commit instead of starting a concurrent one, so a backlog commits in large batches (committer.ts).
 *
 * Bound: a submission holds at most `maxReadingsPerSubmission` readings. Messages are grouped in
 * arrival order up to that; a single message with more points goes alone, in parts, as before.
 * A busy answer (store down, queue full) covers every message of its submission; their nonces are
 * forgotten so the broker's redelivery of the same message is not taken for a replay. Every verified
 * message's nonce is held in flight until its answer is known (see in-flight-nonces.ts), and settled
 * as soon as it is — forgotten, as busy, if the burst fails midway.
 */
import type { SourceKind } from '../../pipeline/ports.js';
import {
  errorAnswer,
  signalRefused,
  submitPrepared,
  summaryRow,
  verifySignedMessage,
  checkSharedNonces,
  forgetNonce,
  settleNonce,
  type SignalAnswer,
  type SignedMessageDeps,
  type VerifiedMessage,
} from './xray-ingest.js';

export interface SignedInput {
  readonly headers: Readonly<Record<string, unknown>>;
  readonly body: Uint8Array;
  /** Handed out again by the broker, or a copy from the hub's own retry queue. */
  readonly redelivered: boolean;
}

/** Per message: what handleSignedMessage would answer, without the per-reading counts of 'stored'. */
export type BurstAnswer = Exclude<SignalAnswer, { kind: 'stored' }> | { readonly kind: 'stored' };

const STORED: BurstAnswer = { kind: 'stored' };

export async function handleSignedBurst(
  deps: SignedMessageDeps,
  inputs: readonly SignedInput[],
  timestampHeader: string,
  source: SourceKind,
  peer: string,
  patient = false,
): Promise<BurstAnswer[]> {
  const answers: BurstAnswer[] = new Array<BurstAnswer>(inputs.length);
  const verified: Array<VerifiedMessage | undefined> = new Array<VerifiedMessage | undefined>(inputs.length);
  const limit = Math.max(1, deps.maxReadingsPerSubmission);
  const passed: number[] = [];
  inputs.forEach((input, index) => {
    const outcome = verifySignedMessage(
      deps,
      input.headers,
      input.body,
      timestampHeader,
      source,
      peer,
      input.redelivered,
    );
    if (outcome.kind !== 'verified') {
      answers[index] = outcome;
      return;
    }
    verified[index] = outcome;
    passed.push(index);
  });
  try {
    await submitVerified(deps, inputs, verified, passed, answers, limit, source, peer, patient);
  } finally {
    // A failure midway (a defect): nothing of the unsettled ones is acknowledged, so they must not meet
    // their own nonces when they come back.
    for (const index of passed) {
      const message = verified[index];
      if (message !== undefined && answers[index] === undefined) forgetNonce(deps, message);
    }
  }
  return answers;
}

/** The shared nonce check, then the submissions, of the messages that passed; fills in their answers. */
async function submitVerified(
  deps: SignedMessageDeps,
  inputs: readonly SignedInput[],
  verified: Array<VerifiedMessage | undefined>,
  passed: readonly number[],
  answers: BurstAnswer[],
  limit: number,
  source: SourceKind,
  peer: string,
  patient: boolean,
): Promise<void> {
  const groups: number[][] = [];
  let group: number[] = [];
  let groupRows = 0;
  // Nonces shared with other hubs: one round trip for the burst (none without a shared window).
  const sharedVerdicts =
    deps.sharedNonces === undefined
      ? []
      : await checkSharedNonces(
          deps,
          passed.map((index) => ({
            verified: verified[index] as VerifiedMessage,
            body: (inputs[index] as SignedInput).body,
            redelivered: (inputs[index] as SignedInput).redelivered,
          })),
          source,
          peer,
        );
  passed.forEach((index, i) => {
    const verdict = sharedVerdicts[i] ?? null;
    if (verdict !== null) {
      answers[index] = verdict; // its nonce settled by checkSharedNonces
      verified[index] = undefined;
      return;
    }
    const outcome = verified[index] as VerifiedMessage;
    const rows = outcome.signal.readings.length;
    if (rows > limit) {
      groups.push([index]); // alone, submitted in parts
      return;
    }
    if (groupRows + rows > limit && group.length > 0) {
      groups.push(group);
      group = [];
      groupRows = 0;
    }
    group.push(index);
    groupRows += rows;
  });
  if (group.length > 0) groups.push(group);

  await Promise.all(
    groups.map(async (members) => {
      const settled = await submitGroup(deps, members, inputs, verified, limit, source, peer, patient);
      members.forEach((index, i) => {
        const answer = settled[i] as BurstAnswer;
        answers[index] = answer;
        // Nothing of a busy one is acknowledged: the same message will come back, and must not meet
        // its own nonce.
        settleNonce(deps, verified[index] as VerifiedMessage, answer.kind);
      });
    }),
  );
}

/** One submission for the group's readings and summaries; answers in group order. */
async function submitGroup(
  deps: SignedMessageDeps,
  members: readonly number[],
  inputs: readonly SignedInput[],
  verified: ReadonlyArray<VerifiedMessage | undefined>,
  limit: number,
  source: SourceKind,
  peer: string,
  patient: boolean,
): Promise<BurstAnswer[]> {
  const messages = members.map((index) => verified[index] as VerifiedMessage);
  const bodyOf = (i: number): Uint8Array => (inputs[members[i] as number] as SignedInput).body;
  const only = messages[0];
  if (messages.length === 1 && only !== undefined && only.signal.readings.length > limit) {
    const answer = await submitPrepared(deps, only.signal, only.entry, source, peer, bodyOf(0));
    return [answer.kind === 'stored' ? { kind: 'stored' } : answer];
  }
  const receivedAt = deps.now();
  const parts = messages.map((message) =>
    deps.storeSummaries
      ? {
          candidates: message.signal.readings,
          entry: message.entry,
          signal: summaryRow(message.signal.summary, receivedAt, source),
        }
      : { candidates: message.signal.readings, entry: message.entry },
  );
  const { answer, revoked, refusedSignals } = await deps.pipeline.handleAuthenticatedParts(parts, source, peer, {
    patient,
  });
  if (answer.kind === 'error') {
    const refusal = errorAnswer(answer.reason, answer.detail);
    return messages.map(() => refusal);
  }
  const answers: BurstAnswer[] = messages.map(() => STORED);
  for (const index of revoked)
    answers[index] = { kind: 'refused', reason: 'revoked_key', detail: 'key id was revoked' };
  for (const refusal of refusedSignals) {
    const message = messages[refusal.index] as VerifiedMessage;
    answers[refusal.index] = signalRefused(deps, message.device, refusal, source, peer, bodyOf(refusal.index));
  }
  return answers;
}
