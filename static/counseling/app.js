// AI voice counseling page: REST session start, one WebSocket per session, Web Speech
// API for speech in and out, a text box that always works. Plain ES2020, no build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const app = $("app");
  if (!app) return;

  const ui = {
    start: $("start"), end: $("end"), status: $("status"), log: $("log"),
    composer: $("composer"), emotion: $("emotion"), tts: $("tts"), message: $("message"),
    counter: $("counter"), mic: $("mic"), stop: $("stop"), send: $("send"), micNote: $("mic-note"),
  };
  const maxChars = Number(app.dataset.maxChars) || 2000;

  // Korean texts for the WebSocket close codes the server uses.
  const CLOSE_TEXT = {
    4401: "로그인이 필요합니다. 페이지를 새로 고쳐 다시 로그인해 주세요.",
    4404: "상담 세션을 찾을 수 없습니다. ‘새 상담 시작’을 눌러 주세요.",
    4409: "이미 종료된 상담입니다. ‘새 상담 시작’을 눌러 주세요.",
    4429: "열려 있는 상담 창이 너무 많습니다. 다른 창을 닫고 ‘다시 연결’을 눌러 주세요.",
    1009: "메시지가 너무 커서 연결이 끊어졌습니다. ‘다시 연결’을 눌러 주세요.",
  };
  const ENDED_TEXT = "상담이 종료되었습니다. 이용해 주셔서 고맙습니다.";

  const state = {
    sessionId: null,
    wsPath: null,
    ws: null,
    streaming: false, // a request is in flight: sent, not yet complete or failed
    stopping: false,
    ended: false,
    assistantEl: null, // bubble of the reply being streamed
  };

  // --- helpers ------------------------------------------------------------------------

  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function uuid() {
    // randomUUID exists only in secure contexts; a plain-HTTP LAN address is not one.
    if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function postJson(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
      body: "{}",
    });
  }

  function setStatus(text, kind) {
    ui.status.textContent = text;
    ui.status.dataset.state = kind;
  }

  function addMessage(role, text) {
    const empty = $("log-empty");
    if (empty) empty.remove();
    const el = document.createElement("div");
    el.className = `msg ${role}`;
    el.dataset.testid = `msg-${role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = { user: "나", assistant: "AI 상담사" }[role] || "알림";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    el.append(who, body);
    ui.log.append(el);
    ui.log.scrollTop = ui.log.scrollHeight;
    return el;
  }

  function setNote(el, text) {
    let note = el.querySelector(".note");
    if (!note) {
      note = document.createElement("span");
      note.className = "note";
      el.append(note);
    }
    note.textContent = text;
  }

  function updateCounter() {
    const n = ui.message.value.length;
    ui.counter.textContent = `${n} / ${maxChars}`;
    ui.counter.classList.toggle("full", n >= maxChars);
  }

  // Enables exactly the controls the current state allows.
  function refreshControls() {
    const open = !!state.ws && state.ws.readyState === WebSocket.OPEN && !state.ended;
    ui.message.disabled = !open;
    ui.emotion.disabled = !open;
    ui.send.disabled = !open || state.streaming;
    ui.mic.disabled = !open || state.streaming || !recognition.supported;
    ui.stop.hidden = !state.streaming;
    ui.stop.disabled = !state.streaming || state.stopping;
    ui.end.disabled = !state.sessionId || state.ended;
    const canStart = !state.ws || state.ws.readyState === WebSocket.CLOSED;
    ui.start.disabled = !canStart;
    ui.start.hidden = !canStart;
  }

  // --- speech out (speechSynthesis) ---------------------------------------------------

  // The reply is read out sentence by sentence as it streams, not once it is whole: a
  // sentence is spoken when the next one starts (an end mark followed by a space or a line).
  const SENTENCE_END = /[.!?…。](?=\s)|\n/g;

  const speech = {
    supported: "speechSynthesis" in window && typeof window.SpeechSynthesisUtterance === "function",
    spoken: 0, // characters of the streaming reply already queued for speech
    begin() {
      this.cancel();
      this.spoken = 0;
    },
    feed(text, { final = false } = {}) {
      let end = text.length;
      if (!final) {
        end = 0;
        for (const match of text.slice(this.spoken).matchAll(SENTENCE_END)) end = this.spoken + match.index + 1;
        if (end <= this.spoken) return;
      }
      const sentence = text.slice(this.spoken, end).trim();
      this.spoken = end;
      if (sentence) this.queue(sentence);
    },
    speak(text) {
      this.begin();
      this.queue(text);
      this.spoken = text.length;
    },
    queue(text) {
      if (!this.supported || !ui.tts.checked || !text) return;
      try {
        const utterance = new SpeechSynthesisUtterance(text);
        utterance.lang = "ko-KR";
        // Voices may be missing (headless browsers, bare Linux desktops): then the
        // browser's default speaks, or nothing does, and the page carries on.
        const korean = (speechSynthesis.getVoices() || []).find((v) => /^ko/i.test(v.lang || ""));
        if (korean) utterance.voice = korean;
        recognition.abort(); // the counselor's voice must not be heard as the user's words
        speechSynthesis.speak(utterance);
      } catch (err) {
        console.warn("speech synthesis failed", err);
      }
    },
    cancel() {
      this.spoken = Number.MAX_SAFE_INTEGER; // nothing more of this reply is read out
      if (this.supported) speechSynthesis.cancel();
    },
  };
  if (!speech.supported) {
    ui.tts.checked = false;
    ui.tts.disabled = true;
    ui.tts.parentElement.title = "이 브라우저는 음성 읽기를 지원하지 않습니다.";
  }

  // --- speech in (Web Speech API) -----------------------------------------------------

  const MIC_ERRORS = {
    "not-allowed": "마이크 사용 권한이 필요합니다. 브라우저 설정에서 허용해 주세요.",
    "service-not-allowed": "이 브라우저에서는 음성 인식을 쓸 수 없습니다. 입력창을 이용해 주세요.",
    "no-speech": "음성이 들리지 않았어요. 다시 말씀해 주세요.",
    "audio-capture": "마이크를 찾을 수 없습니다.",
    network: "음성 인식 서비스에 연결할 수 없습니다. 입력창을 이용해 주세요.",
  };
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  const recognition = {
    supported: typeof Recognition === "function",
    engine: null,
    start() {
      if (!this.supported || this.engine) return;
      const engine = new Recognition();
      engine.lang = "ko-KR";
      engine.interimResults = true;
      engine.continuous = false;
      let heard = "";
      engine.onresult = (event) => {
        let interim = "";
        for (let i = event.resultIndex; i < event.results.length; i += 1) {
          const part = event.results[i][0].transcript;
          if (event.results[i].isFinal) heard += part;
          else interim += part;
        }
        ui.message.value = (heard + interim).slice(0, maxChars);
        updateCounter();
      };
      engine.onerror = (event) => {
        if (event.error !== "aborted") setStatus(MIC_ERRORS[event.error] || "음성 인식 중 문제가 생겼어요.", "error");
      };
      engine.onend = () => {
        this.engine = null;
        ui.mic.setAttribute("aria-pressed", "false");
        ui.mic.textContent = "🎤 말하기";
        // As in the original frontend, what was heard is sent at once.
        if (heard.trim() && !state.streaming) sendMessage();
      };
      try {
        engine.start();
      } catch (err) {
        setStatus("음성 인식을 시작할 수 없습니다. 입력창을 이용해 주세요.", "error");
        return;
      }
      speech.cancel();
      this.engine = engine;
      ui.mic.setAttribute("aria-pressed", "true");
      ui.mic.textContent = "■ 듣는 중 (누르면 멈춤)";
      setStatus("듣고 있어요… 말씀을 마치면 자동으로 보냅니다.", "listening");
    },
    stop() {
      if (this.engine) this.engine.stop();
    },
    abort() {
      if (this.engine) this.engine.abort();
    },
  };
  if (!recognition.supported) {
    ui.micNote.hidden = false;
    ui.micNote.textContent = "이 브라우저는 음성 인식을 지원하지 않습니다. 입력창에 적어서 보내 주세요.";
  }

  // --- session and socket -------------------------------------------------------------

  async function startSession() {
    state.ended = false;
    state.sessionId = null;
    ui.start.disabled = true;
    setStatus("상담 세션을 만드는 중…", "connecting");
    let response;
    let body = null;
    try {
      response = await postJson("/api/session/start");
      body = await response.json().catch(() => null);
    } catch (err) {
      setStatus("서버에 연결할 수 없습니다. 네트워크를 확인하고 다시 시도해 주세요.", "error");
      refreshControls();
      return;
    }
    if (!response.ok || !body || !body.success) {
      const message = body && body.error && body.error.message;
      const login = response.status === 401 || response.status === 403;
      setStatus(login ? CLOSE_TEXT[4401] : message || "상담을 시작하지 못했습니다. 잠시 후 다시 시도해 주세요.", "error");
      refreshControls();
      return;
    }
    state.sessionId = body.data.sessionId;
    state.wsPath = (body.data.wsUrls && body.data.wsUrls.session) || `/ws/session/${state.sessionId}`;
    app.dataset.sessionId = state.sessionId;
    connect();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${state.wsPath}`);
    state.ws = ws;
    setStatus("상담사와 연결하는 중…", "connecting");
    refreshControls();
    ws.addEventListener("message", (event) => {
      let frame = null;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (frame && typeof frame.type === "string") handleFrame(frame.type, frame.data || {});
    });
    ws.addEventListener("close", (event) => onClose(ws, event.code));
  }

  function onClose(ws, code) {
    if (state.ws !== ws) return;
    if (state.streaming) finishReply("error", "연결이 끊어져 응답을 끝까지 받지 못했습니다.");
    if (code === 4409) state.ended = true;
    // Not found or ended: this session cannot be joined again, a new one is needed.
    if (code === 4404 || code === 4409) state.sessionId = null;
    const rejoin = state.sessionId && !state.ended;
    ui.start.textContent = rejoin ? "다시 연결" : "새 상담 시작";
    if (state.ended) setStatus(CLOSE_TEXT[code] || ENDED_TEXT, "ended");
    else setStatus(CLOSE_TEXT[code] || "연결이 끊어졌습니다. ‘다시 연결’을 눌러 주세요.", "error");
    refreshControls();
  }

  function handleFrame(type, data) {
    switch (type) {
      case "connected":
        setStatus("연결되었습니다. 마이크 버튼을 누르고 말하거나, 아래에 입력해 주세요.", "ready");
        refreshControls();
        ui.message.focus();
        break;
      case "ai_stream_begin":
        state.streaming = true;
        speech.begin();
        state.assistantEl = state.assistantEl || addMessage("assistant", "");
        state.assistantEl.dataset.state = "streaming";
        if (data.message_id) state.assistantEl.dataset.messageId = String(data.message_id);
        if (!state.stopping) setStatus("응답 중…", "streaming");
        refreshControls();
        break;
      case "ai_stream_chunk":
        if (typeof data.chunk !== "string") break;
        state.assistantEl = state.assistantEl || addMessage("assistant", "");
        state.assistantEl.querySelector(".text").textContent += data.chunk;
        if (!state.stopping) speech.feed(state.assistantEl.querySelector(".text").textContent);
        ui.log.scrollTop = ui.log.scrollHeight;
        break;
      case "ai_stream_complete":
        onComplete(data);
        break;
      case "ai_stream_error":
        finishReply("error", data.error || "응답을 받지 못했습니다. 다시 말씀해 주세요.", data);
        break;
      case "end_success":
        state.ended = true;
        setStatus(ENDED_TEXT, "ended");
        refreshControls();
        state.ws.close(1000);
        break;
      case "error":
        setStatus(data.message || "요청을 처리하지 못했습니다.", "error");
        break;
      default:
        break; // pong, status_update, pause_success, resume_success: nothing to show
    }
  }

  function onComplete(data) {
    const el = state.assistantEl || (data.fullResponse ? addMessage("assistant", "") : null);
    const text = el && el.querySelector(".text");
    // The stored text wins where it differs on purpose: a blocked reply is replaced, and
    // read out in place of what was being read.
    let replaced = false;
    if (text && typeof data.fullResponse === "string" && (data.blocked || !text.textContent)) {
      text.textContent = data.fullResponse;
      replaced = true;
    }
    if (el && data.crisis) el.classList.add("crisis");
    if (data.stopped) {
      if (el) {
        el.dataset.state = "stopped";
        setNote(el, "응답을 중지했습니다.");
      }
      setStatus("중지됨", "stopped");
    } else {
      if (el) el.dataset.state = "complete";
      setStatus(data.crisis ? "완료 — 위의 도움 전화번호로 바로 연락하실 수 있어요." : "완료", "done");
      if (text && replaced) speech.speak(text.textContent);
      else if (text) speech.feed(text.textContent, { final: true }); // the last sentence
    }
    resetReply();
  }

  function finishReply(kind, message, data) {
    let text = message;
    if (data && data.code === "RATE_LIMITED" && data.retry_after) text += ` (${data.retry_after}초 후 다시 시도)`;
    if (state.assistantEl) {
      state.assistantEl.dataset.state = kind;
      setNote(state.assistantEl, text);
    } else {
      addMessage("system", text);
    }
    setStatus(text, kind);
    resetReply();
  }

  function resetReply() {
    state.streaming = false;
    state.stopping = false;
    state.assistantEl = null;
    refreshControls();
  }

  function sendFrame(payload) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(payload));
    return true;
  }

  function sendMessage() {
    const message = ui.message.value.trim();
    if (state.streaming || state.ended) return;
    if (!message) {
      setStatus("메시지를 입력해 주세요.", "error");
      return;
    }
    if (message.length > maxChars) {
      setStatus(`메시지는 ${maxChars}자까지 보낼 수 있습니다.`, "error");
      return;
    }
    const data = { message, emotion: ui.emotion.value || null, timestamp: Date.now(), client_msg_id: uuid() };
    if (!sendFrame({ type: "request_ai_response", data })) {
      setStatus("연결이 끊어졌습니다. ‘다시 연결’을 눌러 주세요.", "error");
      return;
    }
    speech.cancel();
    addMessage("user", message);
    ui.message.value = "";
    updateCounter();
    state.streaming = true;
    state.assistantEl = null;
    setStatus("응답 중…", "streaming");
    refreshControls();
  }

  function stopReply() {
    if (!state.streaming) return;
    state.stopping = true;
    speech.cancel();
    sendFrame({ type: "cancel_ai_response" });
    setStatus("응답을 멈추는 중…", "streaming");
    refreshControls();
  }

  async function endSession() {
    if (!state.sessionId || state.ended) return;
    recognition.abort();
    speech.cancel();
    if (sendFrame({ type: "end" })) {
      ui.end.disabled = true;
      setStatus("상담을 종료하는 중…", "connecting");
      return;
    }
    // No socket: end it over REST, so the session does not stay open.
    try {
      const response = await postJson(`/api/session/${encodeURIComponent(state.sessionId)}/end`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      state.ended = true;
      ui.start.textContent = "새 상담 시작";
      setStatus(ENDED_TEXT, "ended");
    } catch (err) {
      setStatus("상담을 종료하지 못했습니다. 잠시 후 다시 시도해 주세요.", "error");
    }
    refreshControls();
  }

  // --- wiring -------------------------------------------------------------------------

  ui.start.addEventListener("click", () => (state.sessionId && !state.ended ? connect() : startSession()));
  ui.end.addEventListener("click", endSession);
  ui.stop.addEventListener("click", stopReply);
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  ui.message.addEventListener("input", updateCounter);
  ui.message.addEventListener("keydown", (event) => {
    // Enter that finishes a Hangul syllable (IME composition) must not send the message.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendMessage();
    }
  });
  ui.mic.addEventListener("click", () => (recognition.engine ? recognition.stop() : recognition.start()));
  ui.tts.addEventListener("change", () => ui.tts.checked || speech.cancel());
  window.addEventListener("pagehide", () => speech.cancel());

  updateCounter();
  refreshControls();
})();
