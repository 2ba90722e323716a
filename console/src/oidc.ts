// OpenID Connect sign-in: the authorization code flow with PKCE (RFC 7636), for a public
// client in the browser. The verifier stays in this tab's storage; the token the provider
// answers is the bearer token the API verifies against the provider's keys.
import { signIn } from "./session";

export interface Provider {
  authorization_endpoint: string;
  token_endpoint: string;
  client_id: string;
  scope: string;
}

const PENDING = "fangfanpin.oidc";

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function redirectUri(): string {
  return `${location.origin}/console/`;
}

/** Leave for the provider's sign-in page. */
export async function begin(provider: Provider): Promise<void> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, provider }));
  const url = new URL(provider.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: provider.client_id,
    redirect_uri: redirectUri(),
    scope: provider.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/** Back from the provider with ?code&state: exchange the code, sign in. Answers an error
 * to show, or null (signed in, or nothing to complete). */
export async function complete(): Promise<string | null> {
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  const raw = sessionStorage.getItem(PENDING);
  if (!code || !raw) return query.get("error");
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", `${location.pathname}${location.hash}`);
  const pending = JSON.parse(raw) as { verifier: string; state: string; provider: Provider };
  if (query.get("state") !== pending.state) return "登录状态不符，请重试";
  const answer = await fetch(pending.provider.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      client_id: pending.provider.client_id,
      code_verifier: pending.verifier,
    }),
  });
  if (!answer.ok) return `身份认证失败（${answer.status}）`;
  const tokens = (await answer.json()) as { access_token?: string };
  return tokens.access_token && signIn(tokens.access_token) ? null : "令牌无法识别";
}
