// Submitting a generated form: the operation is chosen at run time (an action's or a fact's
// path), so this goes through fetch with the client's types for what comes back.
import { idempotencyKey, isProblem, type Case, type Problem } from "@fangfanpin/client";
import { token } from "./session";

export type Outcome = { ok: true; case: Case; etag: string | null } | { ok: false; problem: Problem };

/** One submission of a form: the key is made once per form opened, so a double click or a
 * retry is the same request (the server answers it once). */
export class Submission {
  readonly key = idempotencyKey();
  private running: Promise<Outcome> | null = null;

  constructor(private readonly path: string, private readonly ifMatch: string | null) {}

  send(body: unknown): Promise<Outcome> {
    this.running ??= this.post(body).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async post(body: unknown): Promise<Outcome> {
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "Accept-Language": "zh",
      "Idempotency-Key": this.key,
      Authorization: `Bearer ${token() ?? ""}`,
    };
    if (this.ifMatch) headers["If-Match"] = this.ifMatch;
    const response = await fetch(this.path, { method: "POST", headers, body: JSON.stringify(body) });
    const answer: unknown = await response.json();
    if (response.ok) return { ok: true, case: answer as Case, etag: response.headers.get("ETag") };
    if (isProblem(answer)) return { ok: false, problem: answer };
    throw new Error(`unexpected answer ${response.status}`);
  }
}
