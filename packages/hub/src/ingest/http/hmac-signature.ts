/**
 * The signed-request signature as the HTTP routes (and MQTT signed JSON) import it: the one
 * implementation lives in ingest/xray/xray-signature.ts, shared with the AMQP consumer.
 */
export * from '../xray/xray-signature.js';
