// The MAICE frontend's own streaming client and chunk buffer (seed 003, "프론트엔드 구현"),
// kept as the seed wrote them. Every change is marked "Adapted:" with the reason; the
// rest is the seed's code.
"use strict";

// Adapted: an HTTP error carries the server's Korean message and code (spec: errors are
// JSON `{"error": {"code", "message"}}`), not only the status.
class MaiceHttpError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || `요청을 처리하지 못했습니다. (HTTP ${status})`);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

class MaiceStreamingClient {
  // Adapted: the page rides the session cookie, so it has no bearer token but a CSRF
  // token (Django refuses a cookie-authenticated POST without it).
  constructor(token, csrfToken = null) {
    this.token = token;
    this.csrfToken = csrfToken;
    this.eventSource = null;
    this.requestId = null;
  }

  async startChat(question, sessionId, mode = 'agent') {
    const headers = {
      'Content-Type': 'application/json',
      'Accept': 'text/event-stream'
    };
    if (this.token) {
      headers['Authorization'] = `Bearer ${this.token}`;
    } else if (this.csrfToken) {
      headers['X-CSRFToken'] = this.csrfToken;
    }
    // Adapted: a missing mode means "the user's assigned mode" (spec), so it is left out.
    const body = { question, session_id: sessionId };
    if (mode) body.mode = mode;
    const response = await fetch('/api/maice/chat', {
      method: 'POST',
      credentials: 'same-origin',
      headers,
      body: JSON.stringify(body)
    });

    if (!response.ok) {
      // Adapted: read the JSON error (401, 404, 422, 429 + Retry-After) for the user.
      let error = {};
      try {
        error = (await response.json()).error || {};
      } catch (parseError) {
        error = {};
      }
      throw new MaiceHttpError(response.status, error.code, error.message, response.headers.get('Retry-After'));
    }

    // Adapted: the stop button needs the request id (also in every event), and the stream
    // is read by that id: response.url (GET /api/maice/chat) replays the user's latest
    // request, which another tab may have sent meanwhile; a reconnect resumes this one.
    this.requestId = response.headers.get('X-Request-Id');
    this.eventSource = new EventSource(
      this.requestId ? `/api/maice/chat/${encodeURIComponent(this.requestId)}/events` : response.url);
    return this.eventSource;
  }

  handleStreamEvents(eventSource, callbacks) {
    eventSource.onmessage = (event) => {
      try {
        const data = JSON.parse(event.data);

        switch (data.type) {
          case 'classification_start':
            callbacks.onClassificationStart?.(data);
            break;
          case 'classification_complete':
            callbacks.onClassificationComplete?.(data);
            break;
          case 'clarification_required':
            callbacks.onClarificationRequired?.(data);
            break;
          // Adapted: the spec's clarification_complete (the improved question) is an event too.
          case 'clarification_complete':
            callbacks.onClarificationComplete?.(data);
            break;
          case 'answer_chunk':
            callbacks.onAnswerChunk?.(data);
            break;
          case 'answer_complete':
            callbacks.onAnswerComplete?.(data);
            break;
          case 'summary_complete':
            callbacks.onSummaryComplete?.(data);
            break;
          case 'error':
            callbacks.onError?.(data);
            break;
        }
      } catch (error) {
        console.error('Error parsing stream data:', error);
      }
    };

    eventSource.onerror = (error) => {
      console.error('Stream error:', error);
      callbacks.onStreamError?.(error);
    };
  }

  close() {
    if (this.eventSource) {
      this.eventSource.close();
      this.eventSource = null;
    }
  }
}

class ChunkBuffer {
  // Adapted: `onFlush` receives what a timeout flushes (the seed's timer returned the
  // chunks to nobody, so they were lost).
  constructor(timeout = 2000, maxGap = 20, onFlush = null) {
    this.buffer = new Map();
    this.timeouts = new Map();
    this.timeout = timeout;
    this.maxGap = maxGap;
    this.onFlush = onFlush;
    // Adapted: the next chunk_index to hand out. The seed restarted at 0 on every call,
    // so after the first chunk nothing in order was ever released before the timeout.
    this.nextIndex = 0;
  }

  addChunk(chunk) {
    const { chunk_id, chunk_index, content } = chunk;

    // Adapted: a chunk already handed out (a replay after a reconnect) is dropped.
    if (chunk_index < this.nextIndex || this.buffer.has(chunk_index)) {
      return null;
    }

    // 청크 저장 (Adapted: chunk_index kept, the flush sorts by it)
    this.buffer.set(chunk_index, { chunk_id, chunk_index, content });

    // 타임아웃 설정
    const timeoutId = setTimeout(() => {
      const flushed = this.flushPendingChunks();
      if (flushed.length > 0) this.onFlush?.(flushed);
    }, this.timeout);

    this.timeouts.set(chunk_index, timeoutId);

    // Adapted: the seed's maxGap, applied: a hole that wide is not waited for.
    if (chunk_index - this.nextIndex > this.maxGap) {
      return this.flushPendingChunks();
    }

    // 연속된 청크 확인
    return this.checkForConsecutiveChunks();
  }

  checkForConsecutiveChunks() {
    let index = this.nextIndex;
    const chunks = [];

    while (this.buffer.has(index)) {
      chunks.push(this.buffer.get(index));
      this.buffer.delete(index);
      clearTimeout(this.timeouts.get(index));
      this.timeouts.delete(index);
      index++;
    }
    this.nextIndex = index;

    if (chunks.length > 0) {
      return chunks;
    }

    return null;
  }

  flushPendingChunks() {
    const chunks = Array.from(this.buffer.values())
      .sort((a, b) => a.chunk_index - b.chunk_index);

    this.buffer.clear();
    this.timeouts.forEach(timeoutId => clearTimeout(timeoutId));
    this.timeouts.clear();
    if (chunks.length > 0) {
      this.nextIndex = chunks[chunks.length - 1].chunk_index + 1;
    }

    return chunks;
  }
}

window.MaiceHttpError = MaiceHttpError;
window.MaiceStreamingClient = MaiceStreamingClient;
window.ChunkBuffer = ChunkBuffer;
