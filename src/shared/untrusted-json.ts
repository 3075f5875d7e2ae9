// JSON that may carry what a client sent (a call's input, a socket message, a message from
// another node): `__proto__` and `constructor.prototype` keys are dropped, so no value read
// here can reach an object's prototype when merged later.

import secureJson from 'secure-json-parse';

const DROP = { protoAction: 'remove', constructorAction: 'remove' } as const;

/** Throws SyntaxError for what is not JSON. */
export function parseUntrustedJson(text: string): unknown {
  return secureJson.parse(text, undefined, DROP);
}
