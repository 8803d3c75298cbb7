/* Customs page: one endpoint, two answers. JSON answers become cards; SSE answers stream.
 *
 * The request, the content-type branching and the SSE reader follow the seed's client
 * guide (004, "클라이언트 구현 가이드") as written, with two fixes its frontend needs in
 * practice: the decoder keeps multi-byte characters split across reads ({stream: true}),
 * and parseSSEEvents keeps an event split across reads until its blank line arrives.
 * Every text from the server goes in with textContent, never as HTML.
 */
(function () {
  "use strict";

  const app = document.getElementById("app");
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const send = document.getElementById("send");
  const newChat = document.getElementById("new-chat");
  const counter = document.getElementById("counter");
  const statusLine = document.getElementById("status");
  const maxChars = Number(app.dataset.maxChars || 4000);

  const STAGE_LABELS = { information_gathering: "정보 수집", classification: "분류", verification: "검증" };

  function setStatus(state, text) {
    statusLine.dataset.state = state;
    statusLine.textContent = text;
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(url) {
    return typeof url === "string" && (/^https?:\/\//i.test(url) || /^\/(?!\/)/.test(url)) ? url : null;
  }

  function bubble(role, label) {
    document.getElementById("log-empty")?.remove();
    const node = el("div", "msg " + role);
    node.appendChild(el("span", "who", label));
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function definitionList(rows) {
    const dl = el("dl");
    for (const [term, value] of rows) {
      if (value === undefined || value === null || value === "") continue;
      dl.appendChild(el("dt", "", term));
      dl.appendChild(el("dd", "", value));
    }
    return dl;
  }

  function rememberSession(data) {
    if (data && typeof data.session_uuid === "string") app.dataset.sessionUuid = data.session_uuid;
  }

  // --- JSON answers: cards -----------------------------------------------------------------

  function cargoCard(data) {
    const card = el("div", "card-answer cargo");
    card.dataset.testid = "cargo-card";
    if (data.status !== "success") {
      card.classList.add("error");
      card.appendChild(el("h3", "", "화물번호를 찾지 못했습니다"));
      card.appendChild(el("p", "", data.error_message));
      const list = el("ul", "suggestions");
      for (const tip of data.suggestions || []) list.appendChild(el("li", "", tip));
      card.appendChild(list);
      return card;
    }
    const cargo = data.cargo_data || {};
    const title = el("h3", "", "화물번호 인식");
    title.appendChild(el("span", "badge", cargo.cargo_type));
    card.appendChild(title);
    card.appendChild(el("p", "", data.message));
    card.appendChild(definitionList([
      ["화물번호", cargo.cargo_number],
      ["종류", cargo.cargo_type],
      ["신뢰도", typeof cargo.confidence_score === "number" ? Math.round(cargo.confidence_score * 100) + "%" : ""],
      ["인식된 형식", (cargo.extracted_patterns || []).join(", ")],
    ]));
    const button = el("button", "", "통관 진행 조회");
    button.type = "button";
    button.className = "track";
    const result = el("div", "tracking");
    button.addEventListener("click", () => track(data.spring_endpoint, cargo.cargo_number, result, button));
    card.appendChild(button);
    card.appendChild(result);
    return card;
  }

  async function track(endpoint, number, target, button) {
    button.disabled = true;
    target.textContent = "조회 중…";
    try {
      const url = (safeUrl(endpoint) || "/api/cargo/tracking") + "?cargo_number=" + encodeURIComponent(number);
      const response = await fetch(url, { credentials: "same-origin" });
      const body = await response.json();
      target.textContent = "";
      if (!response.ok) {
        target.appendChild(el("p", "stream-error", body.error?.message || "조회하지 못했습니다."));
        return;
      }
      const info = body.data;
      target.appendChild(definitionList([
        ["진행상태", info.progress_status], ["통관상태", info.clearance_status], ["품명", info.product_name],
        ["선박/편명", info.vessel], ["적재항", info.loading_port], ["양륙항", info.discharge_port],
        ["입항일", info.arrived_on], ["출처", info.provider === "unipass" ? "UNI-PASS" : "등록된 화물 정보"],
      ]));
      if (info.events?.length) {
        const steps = el("ol");
        for (const step of info.events) {
          steps.appendChild(el("li", "", [step.occurred_at, step.kind, step.place].filter(Boolean).join(" · ")));
        }
        target.appendChild(steps);
      }
    } catch (error) {
      target.textContent = "조회 중 연결이 끊어졌습니다. 다시 시도해 주세요.";
    } finally {
      button.disabled = false;
    }
  }

  function hsCard(data) {
    const card = el("div", "card-answer hs");
    card.dataset.testid = "hs-card";
    card.dataset.stage = data.stage || "";
    const title = el("h3", "", data.type === "error" ? "HS 코드 분류 오류" : "HS 코드 분류");
    title.appendChild(el("span", "badge stage", STAGE_LABELS[data.stage] || data.stage));
    card.appendChild(title);
    if (data.type === "error") {
      card.classList.add("error");
      card.appendChild(el("p", "", data.message));
      return card;
    }
    if (data.type === "classification_result") {
      const result = data.result || {};
      card.appendChild(el("p", "hscode", result.hscode));
      card.appendChild(definitionList([
        ["신뢰도", typeof result.confidence_score === "number" ? Math.round(result.confidence_score * 100) + "%" : ""],
        ["분류 근거", result.classification_reason],
        ["통칙(GRI)", result.gri_application],
        ["위험 평가", result.risk_assessment],
      ]));
      if (result.alternative_codes?.length) {
        card.appendChild(el("p", "muted small", "다른 후보"));
        const list = el("ul", "alternatives");
        for (const code of result.alternative_codes) list.appendChild(el("li", "", code));
        card.appendChild(list);
      }
      if (result.recommendations?.length) {
        const list = el("ul", "recommendations");
        for (const tip of result.recommendations) list.appendChild(el("li", "", tip));
        card.appendChild(list);
      }
      card.appendChild(el("p", "muted small", "다음 메시지를 보내면 이 코드를 다른 후보와 다시 비교해 검증합니다."));
      return card;
    }
    card.appendChild(el("p", "hs-message", data.message));
    if (data.completed) card.appendChild(el("p", "muted small", "검증을 마쳤습니다."));
    return card;
  }

  // The seed's name for the JSON branch.
  function handleSpecialIntent(jsonData) {
    rememberSession(jsonData);
    const node = bubble("assistant", "도우미");
    if (jsonData.intent_type === "cargo_tracking") node.appendChild(cargoCard(jsonData));
    else if (jsonData.service === "hscode_classification") node.appendChild(hsCard(jsonData));
    else node.appendChild(el("p", "", jsonData.message || ""));
    setStatus("done", "완료");
  }

  // --- SSE answers -------------------------------------------------------------------------

  let sseBuffer = "";
  let current = null; // { node, text, buttons }

  function parseSSEEvents(chunk) {
    sseBuffer += chunk.replace(/\r\n/g, "\n");
    const events = [];
    let end;
    while ((end = sseBuffer.indexOf("\n\n")) !== -1) {
      const block = sseBuffer.slice(0, end);
      sseBuffer = sseBuffer.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      try {
        events.push({ type, data: JSON.parse(data.join("\n")) });
      } catch (error) {
        // A malformed event is skipped; the stream goes on.
      }
    }
    return events;
  }

  function handleStreamError(data) {
    if (!current) return;
    current.node.dataset.state = "error";
    current.node.appendChild(el("span", "note stream-error", "응답이 중단되었습니다. 다시 시도해 주세요."));
    setStatus("error", "오류가 발생했습니다. 다시 시도해 주세요.");
  }

  function buttonsArea() {
    if (!current.buttons) {
      current.buttons = el("div", "detail-buttons");
      current.buttons.dataset.testid = "detail-buttons";
      current.node.appendChild(current.buttons);
    }
    return current.buttons;
  }

  function handleDelta(delta) {
    switch (delta.type) {
      case "text_delta":
        current.text.textContent += delta.text;
        log.scrollTop = log.scrollHeight;
        break;
      case "detail_buttons_start": {
        const pending = el("span", "pending", `관련 페이지 ${delta.button_count}개 ${delta.processing_status}`);
        buttonsArea().appendChild(pending);
        break;
      }
      case "detail_button_ready": {
        const button = delta.button_data || {};
        const url = safeUrl(button.url);
        if (!url) break;
        const link = el("a", "detail-button", button.title);
        link.href = url;
        link.title = button.description || "";
        link.dataset.actionType = button.action_type || "";
        if (/^https?:/i.test(url)) { link.target = "_blank"; link.rel = "noopener noreferrer"; }
        buttonsArea().appendChild(link);
        buttonsArea().querySelector(".pending")?.remove();
        break;
      }
      case "detail_buttons_timeout":
        buttonsArea().appendChild(el("span", "timeout", delta.message));
        break;
    }
  }

  function handleSSEEvent(event) {
    switch (event.type) {
      case "session_info":
        rememberSession(event.data);
        break;
      case "message_start": {
        const node = bubble("assistant", "도우미");
        node.dataset.state = "streaming";
        const text = el("div", "text");
        node.appendChild(text);
        current = { node, text, buttons: null };
        setStatus("streaming", "응답 중…");
        break;
      }
      case "content_block_delta":
        if (event.data.delta.stop_reason === "error") {
          handleStreamError(event.data);
        } else if (current) {
          handleDelta(event.data.delta);
        }
        break;
      case "message_delta":
        if (event.data.delta.stop_reason === "error") {
          handleStreamError(event.data);
        } else if (current) {
          current.node.dataset.state = "done";
          setStatus("done", "완료");
        }
        break;
      case "message_stop":
        current = null;
        break;
    }
  }

  // --- sending -------------------------------------------------------------------------------

  async function sendMessage(message) {
    const chatRequest = { message };
    if (app.dataset.sessionUuid) chatRequest.session_uuid = app.dataset.sessionUuid;
    const response = await fetch("/api/v1/chat", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "X-CSRFToken": csrfToken(),
      },
      credentials: "same-origin",
      body: JSON.stringify(chatRequest),
    });

    if (!response.ok) {
      let text = "요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.";
      try { text = (await response.json()).error?.message || text; } catch (error) { /* not JSON */ }
      bubble("system", "알림").appendChild(el("p", "", text));
      setStatus("error", text);
      return;
    }

    if (response.headers.get('content-type')?.includes('application/json')) {
      const jsonData = await response.json();
      handleSpecialIntent(jsonData);
    }

    if (response.headers.get('content-type')?.includes('text/event-stream')) {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      sseBuffer = "";

      while (true) {
        const { done, value } = await reader.read();
        if (done) break;

        const chunk = decoder.decode(value, { stream: true });
        const events = parseSSEEvents(chunk);

        for (const event of events) {
          handleSSEEvent(event);
        }
      }
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = input.value.trim();
    if (!message || send.disabled) return;
    bubble("user", "나").appendChild(el("div", "text", message));
    input.value = "";
    counter.textContent = `0 / ${maxChars}`;
    // A new chat mid-answer would receive the old session's late answer (and its session).
    send.disabled = newChat.disabled = true;
    setStatus("waiting", "답변을 준비하고 있습니다…");
    try {
      await sendMessage(message);
    } catch (error) {
      if (current) handleStreamError({});
      else setStatus("error", "연결이 끊어졌습니다. 다시 시도해 주세요.");
      current = null;
    } finally {
      send.disabled = newChat.disabled = false;
      input.focus();
    }
  });

  input.addEventListener("input", () => { counter.textContent = `${input.value.length} / ${maxChars}`; });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  newChat.addEventListener("click", () => {
    app.dataset.sessionUuid = "";
    log.textContent = "";
    setStatus("idle", "새 대화를 시작했습니다.");
  });
})();
