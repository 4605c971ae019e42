import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/**
 * Attack: pollute the objects every stub in the worker shares (intrinsics, the clock and
 * randomness it was given, the prototypes behind its ctx), hoping to change what another
 * stub, or the sandbox runtime, sees.
 */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const outcomes: Outcomes = {};
  const evil = () => 'evil';
  const writes: Record<string, () => boolean> = {
    'Object.prototype': () => {
      (Object.prototype as Any).polluted = true;
      return ({} as Any).polluted === true;
    },
    'Object.prototype.then': () => {
      Object.defineProperty(Object.prototype, 'then', { value: evil, configurable: true });
      return typeof ({} as Any).then === 'function';
    },
    'Array.prototype.push': () => {
      Array.prototype.push = evil as Any;
      return [].push === (evil as Any);
    },
    'JSON.parse': () => {
      (JSON as Any).parse = evil;
      return JSON.parse === (evil as Any);
    },
    'Promise.prototype.then': () => {
      // biome-ignore lint/suspicious/noThenProperty: the attack is the point.
      Promise.prototype.then = evil as Any;
      return Promise.prototype.then === (evil as Any);
    },
    'Function.prototype.call': () => {
      Function.prototype.call = evil as Any;
      return Function.prototype.call === (evil as Any);
    },
    'String.prototype.toString': () => {
      String.prototype.toString = evil;
      return String.prototype.toString === evil;
    },
    'Error.prototype.message': () => {
      (Error.prototype as Any).message = 'evil';
      return Error.prototype.message === 'evil';
    },
    'Math.max (given)': () => {
      (Math as Any).max = evil;
      return Math.max === (evil as Any);
    },
    'Date.now (given)': () => {
      (Date as Any).now = evil;
      return Date.now === (evil as Any);
    },
    'crypto.getRandomValues (given)': () => {
      (crypto as Any).getRandomValues = evil;
      return crypto.getRandomValues === (evil as Any);
    },
    'prototype of ctx': () => {
      Object.getPrototypeOf(ctx).polluted = true;
      return ({} as Any).polluted === true;
    },
    '__proto__ through JSON': () => {
      const parsed = JSON.parse('{"__proto__": {"polluted": true}}');
      // biome-ignore lint/suspicious/noProto: the attack is the point.
      Object.assign(Object.getPrototypeOf({}), parsed.__proto__);
      return ({} as Any).polluted === true;
    },
    'Symbol.iterator of arrays': () => {
      (Array.prototype as Any)[Symbol.iterator] = evil;
      return (Array.prototype as Any)[Symbol.iterator] === evil;
    },
  };
  for (const [name, write] of Object.entries(writes)) attempt(outcomes, name, write);
  return reportingStub(ctx, outcomes);
};

export default activate;
