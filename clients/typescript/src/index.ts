// The typed client of the fangfanpin REST API: openapi-fetch over the types generated from
// openapi/openapi.json (src/schema.d.ts; `npm run generate` after the document changes).
import createFetchClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, operations, paths } from "./schema";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type ProblemCode = Schemas["ProblemCode"];
export type RuleCode = Schemas["RuleCode"];
export type Unmet = Schemas["Unmet"];
export type Case = Schemas["CaseOut"];
export type CaseState = Schemas["CaseState"];
export type ActionName = Schemas["ActionName"];
export type Action = Schemas["ActionOut"];

export type FangfanpinClient = Client<paths>;

export interface Options extends ClientOptions {
  /** A bearer token (JWT), sent on every request. */
  token?: string;
  /** zh (default) or en: the language of problem titles and unmet rules' messages. */
  language?: "zh" | "en";
}

/** A client for the API at `baseUrl` ("" for the same origin, as the console uses it). */
export function createClient({ token, language, headers, ...options }: Options = {}): FangfanpinClient {
  return createFetchClient<paths>({
    ...options,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(language ? { "Accept-Language": language } : {}),
      ...(headers as Record<string, string> | undefined),
    },
  });
}

/** The strong ETag of a case version, as If-Match takes it. */
export function ifMatch(version: number): string {
  return `"${version}"`;
}

/** A fresh Idempotency-Key for one form submission (a retry reuses it). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}

/** Narrows an error body to a problem the server answered (application/problem+json). */
export function isProblem(body: unknown): body is Problem {
  return typeof body === "object" && body !== null && "code" in body && "status" in body;
}
