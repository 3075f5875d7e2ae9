// Runs a Standard Schema (zod, valibot, arktype or cleave's env parsers) and
// turns its issues into ValidationError field errors.

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { type FieldError, ValidationError } from '../errors.ts';

export async function validate(
  schema: StandardSchemaV1 | undefined,
  value: unknown,
  part: 'body' | 'query' | 'params' | 'input' | 'output',
): Promise<unknown> {
  if (!schema) return value;
  let result = schema['~standard'].validate(value);
  if (result instanceof Promise) result = await result;
  if (!result.issues) return result.value;
  throw new ValidationError(part, result.issues.map(toFieldError));
}

export function toFieldError(issue: StandardSchemaV1.Issue): FieldError {
  const path = (issue.path ?? [])
    .map((segment) => String(typeof segment === 'object' ? segment.key : segment))
    .join('.');
  return { path, message: issue.message };
}
