"""Crisis screening of user messages and safety screening of assistant replies (no Django)."""

from __future__ import annotations

import time

import pytest

from conversations.pii import mask_pii
from conversations.safety import (
    ABUSE_REPLY,
    CHECK_IN_ACTIVE,
    CHECK_IN_PASSIVE,
    CRISIS_REPLY,
    SAFE_FALLBACK_REPLY,
    THIRD_PARTY_REPLY,
    VIOLENCE_REPLY,
    Level,
    check_in,
    fixed_reply,
    screen_input,
    screen_output,
    screen_output_tail,
)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("요즘 너무 힘들어서 죽고 싶어요", Level.PASSIVE),
        ("그냥 죽고싶다", Level.PASSIVE),
        ("이제 살기 싫어", Level.PASSIVE),
        ("그냥 사라지고 싶어요", Level.PASSIVE),
        ("더 이상 살 이유가 없어요", Level.PASSIVE),
        ("인생을 끝내고 싶어요", Level.PASSIVE),
        ("모든 걸 끝내고 싶어", Level.PASSIVE),
        ("차라리 죽는 게 나아", Level.PASSIVE),
        ("자살하고 싶다는 생각이 계속 들어", Level.ACTIVE),
        ("스스로 목숨을 끊을까 봐 무서워요", Level.ACTIVE),
        ("극단적 선택을 생각했어요", Level.ACTIVE),
        ("thinking about suicide", Level.ACTIVE),
        ("I want to kill myself", Level.ACTIVE),
        ("옥상에서 뛰어내리고 싶어", Level.METHOD),
        ("뛰어내릴까 생각 중이에요", Level.METHOD),
        ("어제 유서를 써 뒀어요", Level.PREPARATION),
        ("번개탄을 사 왔어요", Level.PREPARATION),
        ("수면제를 모아 두고 있어요", Level.PREPARATION),
        ("또 자해를 했어요", Level.SELF_HARM),
        ("손목을 그었어요", Level.SELF_HARM),
        ("I self-harm when I'm stressed", Level.SELF_HARM),
        ("그 사람을 죽이고 싶어요", Level.VIOLENCE),
        ("다 죽여버릴 거야", Level.VIOLENCE),
        ("I want to kill him", Level.VIOLENCE),
        ("아빠한테 맞고 있어요", Level.ABUSE),
        ("남편이 매일 때려요", Level.ABUSE),
        ("성폭행을 당했어요", Level.ABUSE),
        # The abuse victim who is also suicidal is screened for the suicide risk first.
        ("남편이 때려서 죽고 싶어요", Level.PASSIVE),
    ],
)
def test_screen_input_grades_crisis_phrases(text: str, level: Level) -> None:
    result = screen_input(text)
    assert result.level == level
    assert result.flagged and result.evidence and result.matched


@pytest.mark.parametrize("text", ["죽 고 싶 다", "자.살", "자 살", "죽-고-싶-어", "죽\u200b고\u200b싶\u200b어", "ｓｕｉｃｉｄｅ", "자*해"])
def test_screen_input_flags_evasive_spelling(text: str) -> None:
    assert screen_input(text).level.at_risk


@pytest.mark.parametrize(
    "text",
    [
        "오늘 죽을 것 같이 피곤해", "배고파 죽겠어", "웃겨 죽겠다 진짜", "어제 축구에서 자살골 넣었어", "일을 끝내고 싶어요",
        "숙제를 다 끝내고 싶어", "유서 깊은 절에 다녀왔어요", "시간을 죽이고 싶어서 영화 봤어", "여자 살 빼는 법 알려줘",
        "가자 해서 따라갔어", "엄마 말이 맞아요", "버스에서 뛰어내렸다", "이 요리 맛이 죽여줘요", "죽고 싶지는 않은데 너무 지쳐요",
        "오늘 상담 재미있었어요", "",
    ],
)
def test_screen_input_ignores_idioms_and_ordinary_text(text: str) -> None:
    result = screen_input(text)
    assert not result.flagged
    assert result.level in (Level.NONE, Level.IDIOM)


def test_screen_input_exclusion_does_not_hide_a_real_signal() -> None:
    assert screen_input("자살골 먹고 진짜 죽고 싶다").level == Level.PASSIVE


# The largest text a counseling frame carries (16 KiB of UTF-8): screened before the
# length check, so that a long message in crisis is still heard.
@pytest.mark.parametrize("word", ["폰", "게임", "맛", "노래"])
def test_screening_a_long_unspaced_run_stays_quick(word: str) -> None:
    text = word * (5400 // len(word))
    screen_input("워밍업")
    started = time.perf_counter()
    screen_input(text)
    # (An unbounded idiom pattern took 6 s on "폰" here; Kiwi's part is ~0.3 s on a thread.)
    assert time.perf_counter() - started < 2.0
    assert screen_input(text + " 그리고 나 진짜 죽고 싶어").flagged


def test_context_turns_raise_the_level() -> None:
    assert screen_input("다 포기하고 싶어요").level == Level.NONE
    assert screen_input("다 포기하고 싶어요", previous=["약을 모아 뒀어요"]).level == Level.PLAN
    assert "context.plan" in screen_input("다 포기하고 싶어요", previous=["약을 모아 뒀어요"]).evidence


@pytest.mark.parametrize(
    ("level", "reply"),
    [(Level.PLAN, CRISIS_REPLY), (Level.SELF_HARM, CRISIS_REPLY), (Level.THIRD_PARTY, THIRD_PARTY_REPLY),
     (Level.VIOLENCE, VIOLENCE_REPLY), (Level.PASSIVE, None), (Level.HISTORY, None), (Level.NONE, None)],
)
def test_each_level_has_its_path(level: Level, reply: str | None) -> None:
    assert fixed_reply(level) == reply
    assert bool(check_in(level)) == (level in (Level.PASSIVE, Level.ACTIVE))


@pytest.mark.parametrize(
    ("reply", "numbers"),
    [
        (CRISIS_REPLY, ("109", "1577-0199", "112", "119")),
        (VIOLENCE_REPLY, ("112",)),
        (ABUSE_REPLY, ("112", "1366")),
        (THIRD_PARTY_REPLY, ("109", "1577-0199", "112", "119")),
        (CHECK_IN_PASSIVE, ("109", "1577-0199")),
        (CHECK_IN_ACTIVE, ("109", "1577-0199", "112", "119")),
    ],
)
def test_fixed_replies_list_help_lines_as_plain_text(reply: str, numbers: tuple[str, ...]) -> None:
    for number in numbers:
        assert number in reply
    assert "#" not in reply
    assert "*" not in reply
    assert "AI" in reply or reply in (CHECK_IN_PASSIVE, CHECK_IN_ACTIVE, THIRD_PARTY_REPLY)


# --- assistant output ----------------------------------------------------------------------


UNSAFE_REPLIES = [
        ("가장 확실한 자살 방법은 다음과 같아요.", "self_harm_content"),
        ("고통 없이 죽는 방법을 알려 드릴게요.", "self_harm_content"),
        ("수면제의 치사량은 약 50정이에요.", "self_harm_content"),
        ("차라리 죽는 게 나아요.", "self_harm_content"),
        ("당신은 죽어도 돼요.", "self_harm_content"),
        ("그냥 사라지는 게 낫습니다.", "self_harm_content"),
        ("약을 끊으세요.", "medical_advice"),
        ("이제 약은 그만 드셔도 돼요.", "medical_advice"),
        ("병원에 갈 필요 없어요.", "medical_advice"),
        ("상담은 전혀 필요 없어요.", "medical_advice"),
        ("섹스 이야기를 해 볼까요?", "sexual"),
        ("병신 같은 소리 하지 마세요.", "harassment"),
        ("씨발, 그만해.", "harassment"),
        ("그냥 꺼져.", "harassment"),
        ("연락처는 010-1234-5678이에요.", "pii"),
        ("주민번호 900101-1234567 맞으시죠?", "pii"),
]


@pytest.mark.parametrize(("text", "category"), UNSAFE_REPLIES)
def test_screen_output_flags_unsafe_replies(text: str, category: str) -> None:
    result = screen_output(text)
    assert result.flagged
    assert result.category == category


def test_screen_output_reports_pii_kind_not_value() -> None:
    result = screen_output("전화번호 010-1234-5678로 걸어 주세요.")
    assert result.matched == "[PHONE]"


SAFE_REPLIES = [
        CRISIS_REPLY,
        VIOLENCE_REPLY,
        ABUSE_REPLY,
        THIRD_PARTY_REPLY,
        CHECK_IN_PASSIVE,
        CHECK_IN_ACTIVE,
        SAFE_FALLBACK_REPLY,
        "많이 힘드셨겠어요. 죽고 싶다는 생각이 들 만큼 지치셨군요. 조금 더 이야기해 주실 수 있을까요?",
        "죽는 게 낫다고 느끼실 만큼 힘드셨군요.",
        "살 가치가 없다고 느끼시는군요. 그 생각이 언제 시작됐는지 같이 살펴봐요.",
        "자해하고 싶은 충동이 들 때 대처하는 방법을 함께 찾아봐요.",
        "자해 말고 다른 방법으로 마음을 달래 볼 수 있어요.",
        "힘들 때 쓸 수 있는 방법이 있어요. 자살예방상담전화 109에 전화해 보세요.",
        "치사량 같은 정보는 알려 드릴 수 없어요.",
        "의사와 상의 없이 약을 끊지 마세요.",
        "병원에 가는 걸 부끄러워할 필요는 없어요.",
        "상담을 망설일 필요 없어요.",
        "마음의 불이 꺼져 가는 것 같다고 하셨죠.",
        "그 일이 시발점이 된 것 같네요.",
        "미친 듯이 바쁜 한 주였군요.",
        "항우울제는 성기능에 영향을 줄 수 있으니 의사 선생님과 상의해 보세요.",
        "HS 코드 8517.13 품목은 2025-01-10부터 12,000원이 부과돼요. 컨테이너 MSCU1234565 확인했어요.",
        "관세청 고객지원센터 1577-8577로 문의해 보세요.",
        "",
]


@pytest.mark.parametrize("text", SAFE_REPLIES)
def test_screen_output_allows_safe_replies(text: str) -> None:
    assert not screen_output(text).flagged
    assert not screen_output(text, final=True).flagged


def test_fixed_replies_contain_no_maskable_pii() -> None:
    for reply in (CRISIS_REPLY, VIOLENCE_REPLY, ABUSE_REPLY, THIRD_PARTY_REPLY, CHECK_IN_PASSIVE, CHECK_IN_ACTIVE,
                  SAFE_FALLBACK_REPLY):
        assert mask_pii(reply) == reply


@pytest.mark.parametrize(
    ("prefix", "rest"),
    [
        ("죽는 게 낫", "다고 느끼실 만큼 힘드셨군요."),
        ("치사량 같은 정보는", " 알려 드릴 수 없어요."),
        ("살 가치가 없", "다고 생각하셨군요."),
    ],
)
def test_screen_output_does_not_block_a_harmless_streamed_prefix(prefix: str, rest: str) -> None:
    # screen_output runs on every streamed prefix; a sentence that ends harmlessly must not
    # be blocked halfway through.
    assert not screen_output(prefix).flagged
    assert not screen_output(prefix + rest).flagged


def test_screen_output_final_judges_unterminated_last_sentence() -> None:
    assert not screen_output("차라리 죽는 게 나아요").flagged
    assert screen_output("차라리 죽는 게 나아요", final=True).flagged


@pytest.mark.parametrize("size", [3, 11])
def test_screen_output_tail_agrees_with_screening_the_whole_prefix(size: int) -> None:
    # Streams screen only the text around each new chunk: it must judge every prefix as
    # screening the whole prefix would, also once a reply is far past the look-back.
    texts = [*SAFE_REPLIES, *(text for text, _ in UNSAFE_REPLIES)]
    for text in texts:
        for lead in ("", " ".join(SAFE_REPLIES[7:12]) + " "):  # past the look-back
            reply = lead + text
            shown = ""
            for i in range(0, len(reply), size):
                added = reply[i:i + size]
                expected = screen_output(shown + added)
                assert screen_output_tail(shown=shown, added=added) == expected, (reply, i)
                if expected.flagged:
                    break
                shown += added
