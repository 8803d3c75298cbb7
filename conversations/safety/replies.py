"""The fixed texts a screened message is answered with. Written for TTS: plain sentences,
no markdown, digits kept as digits."""

from __future__ import annotations

from collections.abc import Sequence

from conversations.safety.levels import Level

CRISIS_REPLY = (
    "지금 정말 많이 힘드시다는 게 느껴져요. "
    "이야기해 주셔서 고마워요, 당신은 혼자가 아니에요. "
    "저는 AI라서 위급한 상황을 혼자 도와드릴 수는 없어요. "
    "24시간 열려 있는 자살예방상담전화 109나 정신건강위기상담전화 1577-0199로 지금 연락해 주세요. "
    "당장 위험한 상황이라면 경찰 112 또는 구급 119에 바로 전화해 주세요. "
    "상담 선생님도 이 대화를 살펴볼 거예요, 괜찮으시다면 저와 계속 이야기 나눠요."
)

VIOLENCE_REPLY = (
    "지금 화가 정말 많이 나 있는 게 느껴져요. "
    "그런 마음이 들 만큼 힘든 일이 있었나 봐요. "
    "누군가 다치거나 위험한 상황이라면 지금 바로 경찰 112에 연락해 주세요. "
    "저는 AI라서 위급한 상황을 직접 도와드릴 수는 없지만, 상담 선생님도 이 대화를 살펴볼 거예요. "
    "괜찮으시다면 무슨 일이 있었는지 저와 천천히 이야기 나눠요."
)

ABUSE_REPLY = (
    "털어놓기 어려운 이야기를 해 주셔서 고마워요, 그건 결코 당신 잘못이 아니에요. "
    "지금 위험하다면 바로 경찰 112에 전화해 주세요, 아동학대 신고도 112로 할 수 있어요. "
    "여성긴급전화 1366은 24시간 상담과 보호를 도와줘요. "
    "저는 AI라서 직접 도와드릴 수는 없지만, 상담 선생님도 이 대화를 살펴볼 거예요. "
    "괜찮으시다면 저와 계속 이야기 나눠요."
)

# Someone else is at risk: how to help them, without treating the user as the one at risk.
THIRD_PARTY_REPLY = (
    "소중한 사람이 걱정되는 마음이 느껴져요, 이렇게 알아보시는 것만으로도 큰 도움이 돼요. "
    "그분이 위험해 보인다면 혼자 두지 말고 곁에 있어 주세요, 판단하지 말고 이야기를 끝까지 들어 주시는 게 좋아요. "
    "죽고 싶은 마음이 있는지 직접 물어보셔도 괜찮아요, 물어본다고 위험이 커지지 않아요. "
    "자살예방상담전화 109나 정신건강위기상담전화 1577-0199에 함께 전화하거나, 도울 방법을 상담받으실 수 있어요. "
    "지금 당장 위험하다면 경찰 112 또는 구급 119에 바로 연락해 주세요. "
    "돕는 분의 마음도 많이 힘드실 수 있어요, 괜찮으시다면 저와 이야기 나눠요."
)

# Appended to the counselor's reply: the next C-SSRS question, asked plainly (asking does
# not raise risk), and the help lines.
CHECK_IN_PASSIVE = (
    "혹시 요즘 스스로 목숨을 끊는 생각까지 드신 적이 있는지 여쭤봐도 될까요? "
    "힘들 때는 언제든 24시간 자살예방상담전화 109나 정신건강위기상담전화 1577-0199에서 이야기를 들어 줘요."
)
CHECK_IN_ACTIVE = (
    "지금 안전하신지 걱정돼요, 혹시 어떻게 할지 구체적으로 생각해 두셨거나 준비해 두신 게 있나요? "
    "혼자 견디지 마시고 24시간 자살예방상담전화 109나 정신건강위기상담전화 1577-0199에 지금 연락해 주세요, "
    "위급하다면 112나 119에 바로 전화해 주세요."
)

SAFE_FALLBACK_REPLY = (
    "죄송해요, 방금 답변은 보여 드릴 수 없었어요. 지금 어떤 마음이 드시는지 조금 더 이야기해 주시겠어요?"
)

_FIXED = {Level.VIOLENCE: VIOLENCE_REPLY, Level.ABUSE: ABUSE_REPLY, Level.THIRD_PARTY: THIRD_PARTY_REPLY}
_CHECK_INS = {Level.PASSIVE: CHECK_IN_PASSIVE, Level.ACTIVE: CHECK_IN_ACTIVE}


def fixed_reply(level: Level) -> str | None:
    """The reply that replaces the model for ``level``, or None when the model answers."""
    if level.urgency == level.urgency.URGENT:
        return CRISIS_REPLY
    return _FIXED.get(level)


# Once the question has been asked, later replies keep only the help lines.
HELP_LINES = "힘들 때는 언제든 24시간 자살예방상담전화 109나 정신건강위기상담전화 1577-0199에 연락해 주세요."


# The model's part, when the model cannot be asked for it (the user is over a limit, or a
# reply is already being spoken elsewhere): a flagged message is never turned away.
HELD_ACKNOWLEDGEMENT = "이야기해 주셔서 고마워요, 지금 하신 말씀 가볍게 넘기지 않을게요."


def held_reply(level: Level, *, earlier: Sequence[str] = ()) -> str:
    """The reply to a flagged message the model cannot answer now: ``fixed_reply``'s words
    where the level has them, else an acknowledgement, the level's check-in question and
    the help lines."""
    return fixed_reply(level) or f"{HELD_ACKNOWLEDGEMENT} {check_in(level, earlier=earlier) or HELP_LINES}"


def check_in(level: Level, *, earlier: Sequence[str] = ()) -> str:
    """The question and help lines that follow the counselor's reply at ``level``, or "".

    ``earlier`` are the last assistant replies: a question already asked there is not
    asked again word for word.
    """
    text = _CHECK_INS.get(level, "")
    if text and any(text in reply for reply in earlier):
        return HELP_LINES
    return text


_GUIDANCE = {
    Level.PASSIVE: (
        "The user has said they wish they were dead. Answer with warmth in one or two short sentences: "
        "acknowledge the pain and thank them for saying it. Do not ask a question; the service adds a "
        "check-in question and the help lines after your reply. Never discuss methods."
    ),
    Level.ACTIVE: (
        "The user has said they think of killing themself. Answer with warmth in one or two short sentences, "
        "take it seriously, and do not ask a question; the service adds a safety question and the help lines "
        "after your reply. Never discuss methods."
    ),
    Level.HISTORY: (
        "The user mentioned past suicidal thoughts or self-harm. Acknowledge it gently and ask how they are now."
    ),
    Level.MENTION: (
        "The user talks about a suicide they heard of or a loss. Follow safe-messaging practice: no details of "
        "methods, no romanticising; ask how it is affecting them."
    ),
}


def guidance(level: Level) -> str:
    """An extra system instruction for the counselor model at ``level``, or ""."""
    return _GUIDANCE.get(level, "")
