// MAICE math tutor page: ask, see the classification, answer clarifying questions inline,
// watch the answer stream (Markdown + KaTeX), stop it, read the summary, browse past
// sessions. The stream is the seed's MaiceStreamingClient (POST, then EventSource) with
// the seed's ChunkBuffer ordering the chunks. Plain ES2020, no build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const app = $("app");
  if (!app) return;

  const ui = {
    status: $("status"), log: $("log"), composer: $("composer"), question: $("question"), mode: $("mode"),
    counter: $("counter"), send: $("send"), stop: $("stop"), sessions: $("sessions"),
    newSession: $("new-session"), sessionLabel: $("session-label"),
  };
  const maxChars = Number(app.dataset.maxChars) || 4000;

  const CODE_NAMES = { K1: "K1 사실적 지식", K2: "K2 개념적 지식", K3: "K3 절차적 지식", K4: "K4 메타인지·문제해결" };
  const QUALITY_NAMES = { answerable: "답변 가능", needs_clarify: "명료화 필요", unanswerable: "답변 불가" };
  const ANSWER_TYPES = { ...CODE_NAMES, freepass: "바로 답변", unanswerable: "답변 불가" };
  const STATUS_NAMES = {
    answered: "답변 완료", clarifying: "명료화 대기", cancelled: "중단됨", failed: "실패",
    answering: "답변 중", classifying: "분석 중", superseded: "새 질문으로 대체",
  };

  const state = {
    sessionId: null,
    client: null,
    requestId: null,
    streaming: false,
    stopping: false,
    finished: false, // the current stream reached its terminal event
    turn: null, // elements of the question being answered
    awaitingClarification: false,
  };

  // --- helpers ------------------------------------------------------------------------

  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setStatus(stateName, text) {
    ui.status.dataset.state = stateName;
    ui.status.textContent = text;
  }

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function setBusy(busy) {
    state.streaming = busy;
    ui.send.disabled = busy;
    ui.stop.hidden = !busy;
    ui.stop.disabled = false;
    ui.newSession.disabled = busy;
    document.querySelectorAll(".clarify-form button, .clarify-form input").forEach((node) => {
      node.disabled = busy;
    });
  }

  function setSession(id, title) {
    state.sessionId = id;
    app.dataset.sessionId = id ? String(id) : "";
    ui.sessionLabel.textContent = id ? `${title || "대화"} · #${id}` : "새 대화";
    ui.sessions.querySelectorAll("button[data-session-id]").forEach((button) => {
      button.setAttribute("aria-current", String(Number(button.dataset.sessionId) === id));
    });
  }

  function updateCounter() {
    ui.counter.textContent = `${ui.question.value.length} / ${maxChars}`;
  }

  function dateText(iso) {
    if (!iso) return "";
    const when = new Date(iso);
    return when.toLocaleString("ko-KR", { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  // --- rendering of one question's parts ----------------------------------------------

  function newTurn(questionText) {
    $("log-empty")?.remove();
    const turn = el("article", "turn");
    const user = el("div", "msg user");
    user.append(el("span", "who", "나"), el("p", "text", questionText));
    turn.append(user);
    ui.log.append(turn);
    scrollToEnd();
    return { root: turn, answerEl: null, answerText: "", buffer: null, renderPending: false };
  }

  function renderClassification(turn, result) {
    const box = el("div", "classification");
    box.dataset.testid = "classification";
    const code = el("span", `badge code ${result.knowledge_code || ""}`, CODE_NAMES[result.knowledge_code] || result.knowledge_code);
    const quality = el("span", `badge quality ${result.quality || ""}`, QUALITY_NAMES[result.quality] || result.quality);
    box.append(code, quality);
    for (const tag of result.unit_tags || []) box.append(el("span", "badge tag", `#${tag}`));
    if (result.reasoning) box.append(el("p", "reasoning small muted", result.reasoning));
    turn.root.append(box);
  }

  function renderClarification(turn, questions, { answer = null, pending = true } = {}) {
    const card = el("div", "clarification");
    card.append(el("p", "clarify-title", "🤔 질문을 조금 더 알려 주세요"));
    const list = el("ol", "clarify-questions");
    for (const question of questions) list.append(el("li", null, question));
    card.append(list);
    if (answer !== null) {
      card.append(el("p", "clarify-answer", `내 답: ${answer}`));
    } else if (pending) {
      card.append(clarifyForm());
    }
    turn.root.append(card);
    scrollToEnd();
  }

  function clarifyForm(value = "") {
    const form = el("form", "clarify-form");
    const input = el("input");
    input.type = "text";
    input.maxLength = maxChars;
    input.value = value;
    input.placeholder = "여기에 답을 적어 주세요";
    input.setAttribute("aria-label", "명료화 질문에 대한 답");
    const button = el("button", "primary", "답변 보내기");
    button.type = "submit";
    form.append(input, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text || state.streaming) return;
      form.replaceWith(el("p", "clarify-answer", `내 답: ${text}`));
      ask(text, { clarificationAnswer: true });
    });
    setTimeout(() => input.focus(), 0);
    return form;
  }

  function renderImproved(turn, improved) {
    const note = el("p", "improved");
    note.append(el("strong", null, "이렇게 이해했어요: "), document.createTextNode(improved));
    turn.root.append(note);
  }

  function answerElement(turn) {
    if (!turn.answerEl) {
      const box = el("div", "msg assistant");
      box.append(el("span", "who", "MAICE"));
      turn.answerEl = el("div", "answer markdown");
      box.append(turn.answerEl);
      turn.root.append(box);
    }
    return turn.answerEl;
  }

  function scheduleRender(turn) {
    // Re-render the whole answer at most once a frame: Markdown and math need context.
    if (turn.renderPending) return;
    turn.renderPending = true;
    requestAnimationFrame(() => {
      turn.renderPending = false;
      window.MaiceRender.renderInto(answerElement(turn), turn.answerText);
      scrollToEnd();
    });
  }

  function appendChunks(turn, chunks) {
    if (!chunks) return;
    for (const chunk of chunks) turn.answerText += chunk.content;
    scheduleRender(turn);
  }

  function renderAnswerMeta(turn, text) {
    const box = answerElement(turn).parentElement;
    box.querySelector(".answer-meta")?.remove();
    box.append(el("p", "answer-meta small muted", text));
  }

  function renderSummary(turn, summary) {
    const box = el("div", "summary");
    box.dataset.testid = "summary";
    box.append(el("strong", null, "📌 오늘 배운 것: "), document.createTextNode(summary));
    turn.root.append(box);
    scrollToEnd();
  }

  function renderNotice(turn, text, kind) {
    turn.root.append(el("p", `notice-line ${kind}`, text));
    scrollToEnd();
  }

  // --- the stream ---------------------------------------------------------------------

  function finish() {
    state.finished = true;
    state.client?.close();
    setBusy(false);
  }

  function callbacks(turn) {
    const adopt = (data) => {
      if (data.request_id) state.requestId = data.request_id;
      if (data.session_id && data.session_id !== state.sessionId) setSession(data.session_id, null);
    };
    return {
      onClassificationStart(data) {
        adopt(data);
        setStatus("classifying", "질문을 분석하는 중…");
      },
      onClassificationComplete(data) {
        adopt(data);
        renderClassification(turn, data.result || {});
      },
      onClarificationRequired(data) {
        adopt(data);
        state.awaitingClarification = true;
        finish();
        renderClarification(turn, data.questions || []);
        setStatus("clarifying", "질문을 더 정확히 이해하려고 몇 가지 물어볼게요. 아래에 답해 주세요.");
      },
      onClarificationComplete(data) {
        adopt(data);
        renderImproved(turn, data.improved_question || "");
        setStatus("answering", "답변을 준비하는 중…");
      },
      onAnswerChunk(data) {
        adopt(data);
        setStatus("streaming", "답변을 작성하는 중…");
        if (!turn.buffer) turn.buffer = new ChunkBuffer(2000, 20, (chunks) => appendChunks(turn, chunks));
        appendChunks(turn, turn.buffer.addChunk(data));
      },
      onAnswerComplete(data) {
        adopt(data);
        if (turn.buffer) appendChunks(turn, turn.buffer.flushPendingChunks());
        answerElement(turn);
        renderAnswerMeta(turn, `답변 유형: ${ANSWER_TYPES[data.answer_type] || data.answer_type || "-"} · ${data.total_chunks}개 조각`);
        setStatus("summarizing", "배운 내용을 정리하는 중…");
      },
      onSummaryComplete(data) {
        adopt(data);
        finish();
        renderSummary(turn, data.summary || "");
        setStatus("done", "완료");
        loadSessions();
      },
      onError(data) {
        adopt(data);
        finish();
        if (turn.buffer) appendChunks(turn, turn.buffer.flushPendingChunks());
        if (data.error_code === "CANCELLED") {
          renderNotice(turn, "답변을 중지했습니다. 지금까지 받은 내용은 남겨 두었어요.", "stopped");
          setStatus("stopped", "중지됨");
        } else {
          renderNotice(turn, data.message || "문제가 생겼습니다. 다시 시도해 주세요.", "error");
          setStatus("error", `${data.message || "문제가 생겼습니다."} (${data.error_code})`);
        }
        loadSessions();
      },
      onStreamError() {
        if (state.finished) return;
        const source = state.client?.eventSource;
        if (source && source.readyState === EventSource.CONNECTING) {
          setStatus("reconnecting", "연결이 잠시 끊겨 다시 연결하는 중…");
          return; // EventSource resumes from Last-Event-ID by itself
        }
        finish();
        renderNotice(turn, "서버와의 연결이 끊어졌습니다. 잠시 후 다시 질문해 주세요.", "error");
        setStatus("error", "연결이 끊어졌습니다. 다시 시도해 주세요.");
      },
    };
  }

  async function ask(text, { clarificationAnswer = false } = {}) {
    if (state.streaming) return;
    const turn = clarificationAnswer && state.turn ? state.turn : newTurn(text);
    state.turn = turn;
    state.awaitingClarification = false;
    state.finished = false;
    state.requestId = null;
    setBusy(true);
    setStatus("connecting", "질문을 보내는 중…");
    const client = new MaiceStreamingClient(null, cookie("csrftoken"));
    state.client = client;
    try {
      const source = await client.startChat(text, state.sessionId, ui.mode.value || null);
      state.requestId = client.requestId;
      client.handleStreamEvents(source, callbacks(turn));
    } catch (error) {
      setBusy(false);
      if (clarificationAnswer) {
        // Not sent: the clarification still waits for this answer, so it stays answerable.
        state.awaitingClarification = true;
        const sent = [...turn.root.querySelectorAll(".clarify-answer")].pop();
        sent?.replaceWith(clarifyForm(text));
      }
      let message = error.message || "질문을 보내지 못했습니다.";
      if (error instanceof MaiceHttpError && error.status === 429 && error.retryAfter) {
        message = `${message} (${error.retryAfter}초 후 다시 시도해 주세요.)`;
      } else if (!(error instanceof MaiceHttpError)) {
        message = "서버에 연결할 수 없습니다. 네트워크를 확인해 주세요.";
      }
      renderNotice(turn, message, "error");
      setStatus("error", message);
    }
  }

  async function stop() {
    if (!state.streaming || !state.requestId || state.stopping) return;
    state.stopping = true;
    ui.stop.disabled = true;
    setStatus("stopping", "답변을 중지하는 중…");
    try {
      const response = await fetch(`/api/maice/chat/${encodeURIComponent(state.requestId)}/cancel`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
        body: "{}",
      });
      if (!response.ok) throw new Error(String(response.status));
      // The stream itself ends with error CANCELLED (onError above).
    } catch (error) {
      ui.stop.disabled = false;
      setStatus("error", "중지하지 못했습니다. 다시 눌러 주세요.");
    } finally {
      state.stopping = false;
    }
  }

  // --- history ------------------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  }

  async function loadSessions() {
    let data;
    try {
      data = await getJson("/api/maice/sessions");
    } catch (error) {
      ui.sessions.replaceChildren(el("li", "muted small empty", "지난 대화를 불러오지 못했습니다."));
      return;
    }
    const rows = data.sessions || [];
    if (!rows.length) {
      ui.sessions.replaceChildren(el("li", "muted small empty", "아직 대화가 없습니다."));
      return;
    }
    const current = rows.find((row) => row.session_id === state.sessionId);
    if (current) setSession(current.session_id, current.title);
    ui.sessions.replaceChildren(...rows.map((row) => {
      const item = el("li");
      const button = el("button", "session-item");
      button.type = "button";
      button.dataset.sessionId = String(row.session_id);
      button.setAttribute("aria-current", String(row.session_id === state.sessionId));
      button.append(el("span", "session-title", row.title || "제목 없는 대화"));
      if (row.summary) button.append(el("span", "session-summary small muted", row.summary));
      button.append(el("span", "session-date small muted", dateText(row.last_activity_at || row.started_at)));
      button.addEventListener("click", () => openSession(row.session_id));
      item.append(button);
      return item;
    }));
  }

  async function openSession(id) {
    if (state.streaming) return;
    let data;
    try {
      data = await getJson(`/api/maice/sessions/${id}`);
    } catch (error) {
      setStatus("error", "대화를 불러오지 못했습니다.");
      return;
    }
    ui.log.replaceChildren();
    state.turn = null;
    state.awaitingClarification = false;
    setSession(data.session_id, data.title);
    const questions = data.questions || [];
    if (!questions.length) ui.log.append(el("p", "empty", "이 대화에는 아직 질문이 없습니다."));
    questions.forEach((question, index) => {
      const turn = newTurn(question.question);
      if (question.classification) renderClassification(turn, question.classification);
      const last = index === questions.length - 1;
      for (const round of question.clarifications || []) {
        const pending = round.answer === null && last && question.status === "clarifying";
        renderClarification(turn, round.questions || [], { answer: round.answer, pending });
        if (pending) state.awaitingClarification = true;
      }
      if (question.improved_question) renderImproved(turn, question.improved_question);
      if (question.answer) {
        window.MaiceRender.renderInto(answerElement(turn), question.answer.text || "");
        const type = ANSWER_TYPES[question.answer.answer_type] || question.answer.answer_type;
        const status = STATUS_NAMES[question.status] || question.status;
        renderAnswerMeta(turn, [type && `답변 유형: ${type}`, status].filter(Boolean).join(" · "));
      }
      if (question.summary) renderSummary(turn, question.summary);
      state.turn = turn;
    });
    setStatus(state.awaitingClarification ? "clarifying" : "idle",
      state.awaitingClarification ? "명료화 질문에 답해 주세요." : "이 대화에 이어서 질문할 수 있어요.");
  }

  function startNewSession() {
    if (state.streaming) return;
    setSession(null, null);
    state.turn = null;
    state.awaitingClarification = false;
    ui.log.replaceChildren(el("p", "empty", "새 대화입니다. 아래에 질문을 적어 보세요."));
    ui.log.firstChild.id = "log-empty";
    setStatus("idle", "질문을 입력해 주세요.");
    ui.question.focus();
  }

  // --- wiring -------------------------------------------------------------------------

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.question.value.trim();
    if (!text || state.streaming) return;
    ui.question.value = "";
    updateCounter();
    // While a clarification is pending, the next message is its answer (same session).
    if (state.awaitingClarification && state.turn) {
      state.turn.root.querySelector(".clarify-form")?.replaceWith(el("p", "clarify-answer", `내 답: ${text}`));
      ask(text, { clarificationAnswer: true });
    } else {
      ask(text);
    }
  });
  ui.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.question.addEventListener("input", updateCounter);
  ui.stop.addEventListener("click", stop);
  ui.newSession.addEventListener("click", startNewSession);
  window.addEventListener("beforeunload", () => state.client?.close());

  updateCounter();
  loadSessions();
})();
