export * from './hub-process.js';
