// Downloads that need the token (ledgers, the national export): streamed with progress,
// then handed to the browser as a file.
import { h } from "./dom";
import { token } from "./session";

export function downloadLink(label: string, url: string, filename: string, id: string): HTMLElement {
  const progress = h("span", { class: "progress", "aria-live": "polite" });
  const button = h("button", { type: "button", id, onclick: async () => {
    progress.textContent = "下载中…";
    const answer = await fetch(url, { headers: { Authorization: `Bearer ${token() ?? ""}`, "Accept-Language": "zh" } });
    if (!answer.ok || !answer.body) {
      progress.textContent = `失败（${answer.status}）`;
      return;
    }
    const reader = answer.body.getReader();
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(new Uint8Array(value));
      received += value.length;
      progress.textContent = `已接收 ${(received / 1024).toFixed(0)} KB`;
    }
    const link = h("a", { href: URL.createObjectURL(new Blob(parts)), download: filename }) as HTMLAnchorElement;
    link.click();
    progress.textContent = `完成：${(received / 1024).toFixed(0)} KB`;
    progress.setAttribute("data-bytes", String(received));
  } }, label);
  return h("li", {}, button, " ", progress);
}
