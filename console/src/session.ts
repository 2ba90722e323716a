// Who is signed in: the bearer token (kept for this browser tab only) and its claims.
import { createClient, type FangfanpinClient } from "@fangfanpin/client";

export interface User {
  sub: string;
  name: string;
  role: string;
  area: string;
}

const KEY = "fangfanpin.token";

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(value: string): User | null {
  const user = claims(value);
  if (user) sessionStorage.setItem(KEY, value);
  return user;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

export function user(): User | null {
  const value = token();
  return value ? claims(value) : null;
}

/** The token's claims (the server checks its signature; the console only shows them). */
function claims(value: string): User | null {
  const part = value.split(".")[1];
  if (!part) return null;
  try {
    const json = new TextDecoder().decode(
      Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)),
    );
    const body = JSON.parse(json) as Record<string, unknown>;
    if (typeof body.sub !== "string" || typeof body.role !== "string" || typeof body.area !== "string") {
      return null;
    }
    return { sub: body.sub, role: body.role, area: body.area, name: String(body.name ?? body.sub) };
  } catch {
    return null;
  }
}

/** The typed client on this origin, with the signed-in user's token. */
export function api(): FangfanpinClient {
  return createClient({ baseUrl: "", token: token() ?? undefined, language: "zh" });
}
