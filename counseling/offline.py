"""The offline counselor: an emotion-aware reflection plus one CBT question.

Deterministic (the same conversation gets the same reply), built from the seed's
guidelines: acknowledge the feeling, name the situation, notice a cognitive
distortion if there is one, and ask one concrete question. 2–3 sentences.
"""

from __future__ import annotations

import re
import zlib

from conversations.llm import ChatRequest

# What the user is talking about, matched in order; the first hit names the situation.
_THEMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"회사|직장|상사|팀장|업무|출근|야근|동료"), "회사 일"),
    (re.compile(r"시험|공부|성적|학교|수능|과제"), "공부와 시험"),
    (re.compile(r"엄마|아빠|부모|가족|남편|아내|형|누나|언니|오빠|동생"), "가족과의 관계"),
    (re.compile(r"친구|연애|애인|남자친구|여자친구|헤어|이별"), "가까운 사람과의 관계"),
    (re.compile(r"잠|불면|못 자|피곤"), "잠과 피로"),
    (re.compile(r"돈|월급|빚|대출|생활비"), "경제적인 부담"),
    (re.compile(r"취업|면접|이직|진로"), "진로와 취업"),
    (re.compile(r"건강|아프|병원"), "건강"),
)

# Cognitive distortions with a gentle reframing question each (CBT).
_DISTORTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"항상|맨날|늘|매번|절대|한 번도"),
     "혹시 '항상' 그렇지는 않았던 때가 있었는지 떠올려 보실 수 있을까요?"),
    (re.compile(r"망했|끝났|최악|큰일|어떡하|어떻게 하"),
     "지금 걱정되는 일이 실제로 일어난다면, 가장 현실적인 결과는 어떤 모습일까요?"),
    (re.compile(r"내 잘못|내 탓|제 잘못|제 탓|나 때문|저 때문"),
     "그 일에서 내담자분의 책임이 아닌 부분은 무엇이 있을까요?"),
    (re.compile(r"아무도|다들|모두가|모든 사람"),
     "그렇게 생각하게 된 구체적인 장면이 있었다면 하나만 말씀해 주시겠어요?"),
    (re.compile(r"해야만|해야 해|해야 한다|완벽"),
     "꼭 그래야 한다는 기준이 조금 느슨해진다면 어떤 점이 달라질까요?"),
)

_REFLECTIONS: dict[str, tuple[str, ...]] = {
    "anxious": ("많이 불안하셨겠어요.", "그런 상황에서 불안한 건 자연스러운 반응이에요."),
    "sad": ("힘든 시간을 보내고 계시는군요.", "슬픈 감정을 느끼는 것도 괜찮아요."),
    "angry": ("화가 나셨군요. 그런 감정을 느끼는 게 당연해요.", "많이 속상하고 화가 나셨겠어요."),
    "happy": ("좋은 일이 있으셨군요. 그 기분이 저에게도 전해져요.", "기분 좋은 변화가 느껴져요."),
    "neutral": ("이야기해 주셔서 고마워요.", "천천히 이야기해 주셔서 고마워요."),
    "fearful": ("많이 두려우셨겠어요. 지금 여기는 안전한 곳이에요.", "겁이 나는 건 당연한 반응이에요."),
    "disgusted": ("많이 불쾌하셨겠어요. 그렇게 느끼실 만해요.", "그 일이 꽤 거슬리셨던 것 같아요."),
    "surprised": ("많이 놀라셨겠어요.", "갑작스러운 일에 당황하셨을 것 같아요."),
}

_QUESTIONS: dict[str, tuple[str, ...]] = {
    "anxious": ("그때 머릿속에 어떤 생각이 가장 먼저 떠올랐나요?", "불안이 가장 커지는 순간은 언제인가요?"),
    "sad": ("어떤 일이 있었는지 조금 더 들려주시겠어요?", "요즘 가장 마음을 무겁게 하는 생각은 무엇인가요?"),
    "angry": ("무엇이 가장 화나게 했나요?", "그 순간 스스로에게 어떤 말을 하고 있었나요?"),
    "happy": ("그 좋은 변화를 만든 건 무엇이었다고 생각하세요?", "그 기분을 더 자주 느끼려면 무엇을 해 볼 수 있을까요?"),
    "neutral": ("오늘은 어떤 하루를 보내셨나요?", "그 경험에 대해 더 자세히 말씀해 주시겠어요?"),
    "fearful": ("가장 두렵게 느껴지는 것은 무엇인가요?", "그 두려움이 말을 한다면 뭐라고 할 것 같나요?"),
    "disgusted": ("어떤 점이 가장 불편하게 느껴졌나요?", "그 감정이 들 때 주로 어떻게 대처하셨나요?"),
    "surprised": ("무슨 일이 있었는지 차근차근 말씀해 주시겠어요?", "그 일을 겪고 지금 어떤 생각이 드세요?"),
}


def _pick(options: tuple[str, ...], seed: int) -> str:
    return options[seed % len(options)]


def counseling_reply(request: ChatRequest) -> str:
    user_text = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    emotion = request.context.get("emotion") or "neutral"
    if emotion not in _REFLECTIONS:
        emotion = "neutral"
    # The turn number varies the wording across a conversation, deterministically.
    seed = zlib.crc32(user_text.encode()) + len(request.messages)

    reflection = _pick(_REFLECTIONS[emotion], seed)
    theme = next((name for pattern, name in _THEMES if pattern.search(user_text)), None)
    if theme:
        # Keep to the seed's 2–3 sentences: the situation replaces a second reflection sentence.
        first_sentence = re.match(r".+?[.?!](?=\s|$)", reflection)
        reflection = first_sentence.group(0) if first_sentence else reflection
        reflection += f" {theme} 때문에 마음이 많이 쓰이시는 것 같아요."
    if request.context.get("risk") in ("passive", "active"):
        return reflection  # the service follows with its own check-in question
    distortion = next((question for pattern, question in _DISTORTIONS if pattern.search(user_text)), None)
    question = distortion or _pick(_QUESTIONS[emotion], seed // 7)
    return f"{reflection} {question}"
