import { h, mount } from "../dom";
import { ROLE } from "../labels";
import { begin } from "../oidc";
import { api, signIn } from "../session";

/** Demo mode: pick a demo user (the service mints the token); with an identity provider:
 * its sign-in page (OpenID Connect, PKCE); always: paste a token. */
export async function signInView(target: HTMLElement, done: () => void, problem: string | null = null): Promise<void> {
  const config = await api().GET("/api/v1/console/config");
  const users = config.data?.demo ? await api().GET("/api/v1/demo/users") : null;
  const pasted = h("textarea", { id: "token", rows: 4, "aria-label": "访问令牌" }) as HTMLTextAreaElement;
  const error = h("p", { class: "error", role: "alert" }, problem ?? "");
  const usePasted = () => {
    if (signIn(pasted.value.trim())) done();
    else error.textContent = "令牌无法识别";
  };
  const provider = config.data?.oidc;
  mount(target,
    h("h1", {}, "登录"),
    error,
    provider
      ? h("section", {}, h("h2", {}, "统一身份认证"),
          h("button", { type: "button", id: "oidc-sign-in", onclick: () => void begin(provider) }, "使用统一身份认证登录"))
      : null,
    users?.data
      ? h("section", {},
          h("h2", {}, "演示用户"),
          h("ul", { class: "users" }, ...users.data.map((u) =>
            h("li", {}, h("button", {
              type: "button", "data-user": u.sub,
              onclick: async () => {
                const minted = await api().POST("/api/v1/demo/tokens", { body: { user: u.sub } });
                if (minted.data && signIn(minted.data.access_token)) done();
                else error.textContent = minted.error?.title ?? "登录失败";
              },
            }, `${u.name ?? u.sub}（${ROLE[u.role] ?? u.role}，${u.description}）`)))))
      : null,
    h("section", {}, h("h2", {}, "使用访问令牌"), pasted,
      h("button", { type: "button", onclick: usePasted }, "登录")));
}
