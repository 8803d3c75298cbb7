"""The crisis rules: what each C-SSRS level sounds like in Korean (and English).

A rule is one or more morpheme sequences (``patterns.seq``) that must all occur in one
sentence. Each rule names its level; the message's level is the highest one left after
negation, history, third-party and topic talk are accounted for (see ``screen``).
Written from how people say these things, then checked against ``eval.jsonl``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conversations.safety.levels import Level
from conversations.safety.normalise import compile_nfkc
from conversations.safety.patterns import anchors, compile_seq


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    all_of: tuple[re.Pattern[str], ...]
    # Negation right after the first pattern's match ("죽고 싶지 않아요") cancels the rule.
    negatable: bool = True
    # An act, not a wish: "동생이 그었어요" is the brother's act; a wish ("싶다") is the
    # speaker's unless it is reported ("싶대요").
    act: bool = False
    # Forms one of which each pattern needs (``patterns.anchors``): most sentences have none.
    anchors: tuple[frozenset[str] | None, ...] = ()

    def may_match(self, forms: frozenset[str]) -> bool:
        """Whether a sentence with these morpheme forms can match at all."""
        return all(needed is None or not needed.isdisjoint(forms) for needed in self.anchors)


def rule(id: str, level: Level, *all_of: str | tuple[str, ...], negatable: bool = True, act: bool = False) -> Rule:
    specs = [spec if isinstance(spec, tuple) else (spec,) for spec in all_of]
    return Rule(id=id, level=level, all_of=tuple(compile_seq(*alternatives) for alternatives in specs),
                negatable=negatable, act=act, anchors=tuple(anchors(*alternatives) for alternatives in specs))


P, A, M, IN, PL, PR, SH = (Level.PASSIVE, Level.ACTIVE, Level.METHOD, Level.INTENT, Level.PLAN,
                           Level.PREPARATION, Level.SELF_HARM)

# Forms of "will", "going to", "decided to" ("죽을 거예요", "죽으려고요", "죽기로 했어요").
_WILL = ("ᆯ|을/ETM 거|것|꺼/NNB 이/VCP", "ᆯ|을/ETM 생각|계획|작정/NNG 이/VCP", "으려고|려고|려고요|으려고요|려/E",
         "ᆯ래|을래/E", "기/ETN 로/J", "겠/EP 다고/E")
_DIE = "죽|뒤지/V"
_NOBODY_CARES = "상관없|괜찮|슬퍼하|모르|돌아가/V|N"
_DEATH_WORD = ("죽|뒤지/V", "자살/N", "목숨/N", "끝내/V", "뛰어내리|뛰어들/V", "생/N ~1 마감")
_PLACE = "옥상|다리|한강|난간|철로|선로|절벽/N"
_METHOD_ACT = ("뛰어내리|뛰어들/V", "목/N ~1 매/V", "목매/V", "번개탄/N ~2 피우/V", "약|수면제|진통제/N ~3 먹|삼키/V",
               "손목/N ~2 긋/V")
_BODY = "손목|팔|허벅지|다리|몸|살/N"
_PILLS = "약|수면제|진통제/N"


def _will(stem: str) -> tuple[str, ...]:
    return tuple(f"{stem} 어/EC? 버리/VX? {will}" for will in _WILL)


RULES: tuple[Rule, ...] = (
    # --- C-SSRS 1: wish to be dead -------------------------------------------------------
    rule("passive.wish_to_die", P, f"{_DIE} %3 싶/VX"),
    rule("passive.hope_dead", P, f"{_DIE} %3 으면|면/EC ~2 좋|하|편하|낫/V"),
    rule("passive.vanish", P, ("사라지/V %3 싶/VX", "없/VA 어/EC 지/VX %3 싶/VX",
                               "사라지/V %3 으면|면/EC ~2 좋|하/V", "없/VA 어/EC 지/VX %3 으면|면/EC ~2 좋|하/V")),
    rule("passive.sleep_forever", P, ("잠들|자/VV %3 으면|면/EC ~2 좋|하/V", "잠들|자/VV %3 싶/VX"),
         "이대로|영원히|그대로|영영/*"),
    rule("passive.nothing_left", P, "미련/N ~2 없/VA", "세상|삶|인생|이승/N"),
    rule("passive.no_wish_to_live", P, ("살/VV 기/ETN 싫/VA", "살/VV %1 고/EC 싶/VX 지/EC */JX|JKS? 않/VX",
                                        "그만/MAG 살/VV", "살/VV 어서/EC 뭐/NP", "왜/MAG ~2 살/VV 어야/EC"),
         negatable=False),
    rule("passive.no_reason", P, "사|살|살아가/V ~5 이유|의미|가치/NNG ~5 없|모르/V"),
    rule("passive.never_born", P, ("태어나/VV 지/EC 말/VX", "안/MAG 태어나/VV %2 으면|면/EC",
                                   "태어나/VV ~3 잘못|실수/N"), negatable=False),
    rule("passive.not_wake", P, ("안|못/MAG 깨어나|깨|뜨|일어나/VV %2 으면|면/EC", "영원히/MAG 잠들/VV",
                                 "영원히/MAG 안/MAG 깨어나/VV"), negatable=False),
    rule("passive.no_tomorrow", P, ("내일|아침/N ~2 안/MAG 오/VV %2 으면|면/EC",
                                    "내일|아침/N ~2 오/VV 지/EC 않/VX %2 으면|면/EC"), negatable=False),
    rule("passive.burden", P, ("나|저/NP ~2 없/VA ~8 편하|행복|낫|좋|해결|나아지/V|N",
                               "없/VA 어/EC 지/VX 는/ETM 거|것/NNB ~1 맞/V",
                               "나|저/NP ~1 같/VA 은/ETM 거|건/NNB ~1 없/VA 는/ETM 거|것/NNB ~1 낫/V")),
    rule("passive.dead_is_fine", P, (f"{_DIE} 어도/EC ~5 {_NOBODY_CARES}", f"사라지/V 어도/EC ~5 {_NOBODY_CARES}",
                                     f"없/VA 어/EC 지/VX 어도/EC ~5 {_NOBODY_CARES}"), negatable=False),
    rule("passive.better_dead", P, f"{_DIE} 는/ETM 거|것|편/N ~1 낫/V"),
    rule("passive.life_is_pain", P, ("살/VV 어/EC 있/VX 는/ETM 거|것/NNB ~3 고통|지옥|벌|형벌|고문/NNG",
                                     "사/VV 는/ETM 거|것/NNB ~3 지옥|형벌|고문/NNG")),
    rule("passive.end_life", P, ("끝내|그만두|그만하|포기하|마감하|포기/V|N ~4 싶/VX", "그만/MAG 하/VV ~2 싶/VX",
                                 "끝나/VV %2 으면|면/EC"), "삶|인생|생|목숨/NNG"),
    rule("passive.end_everything", P, "모든/MM 거|것/NNB ~2 끝내/VV %3 싶/VX"),
    rule("passive.all_over", P, "모든/MM 거|것/NNB ~1 끝나/VV 었/EP 으면/EC"),
    rule("passive.heaven", P, "하늘나라|저세상|천국|저승/N ~2 가/VV %3 싶/VX"),
    rule("passive.join_the_dead", P, "곁/NNG ~2 가/VV %3 싶/VX", ("먼저/MAG 가/VV", "돌아가시/V")),
    # --- C-SSRS 2: thoughts of killing oneself -------------------------------------------
    rule("active.suicide", A, "자살/N"),
    rule("active.take_life", A, ("목숨/N ~2 끊/VV", "생/N ~1 마감", "극단/NNG 적/XSN ~2 선택|생각/NNG",
                                 "스스로|자신|나|저/* ~3 죽이|없애/VV", "스스로/MAG ~2 죽/VV",
                                 "손/NNG 으로/JKB 끝내/VV", "생/N ~2 끝내/VV", "스스로/MAG ~3 끝내/VV")),
    rule("active.might_die", A, (f"{_DIE} %3 ᆯ까|을까/E", f"{_DIE} 어야/EC 겠/EP", f"{_DIE} 어야/EC 하/VX 겠/EP")),
    rule("active.self_harm_urge", A, "자해/N", act=True),
    # --- C-SSRS 3: method -------------------------------------------------------------------
    rule("method.how", M, ("죽|뒤지/V %2 방법|법/N", "자살|자해/N %3 방법|법/N", "목/N ~1 매/V %2 방법|법/N",
                           "목매/V %2 방법|법/N", "방법|법/N ~3 자살|자해/N")),
    rule("method.how_to_end_life", M, "끝내|끊|마감하/V %2 방법|법/N", "삶|인생|목숨|생/N"),
    rule("method.in_order_to", M, tuple(f"{act} %2 려면|으려면/E" for act in (_DIE, "자살/N 하/XSV", *_METHOD_ACT))),
    rule("method.how_many", M, ("몇/MM 알|층|개|정|통/N ~5 죽|끝나/V",
                                "몇/MM 알|층|개|정|통/N ~6 안|못/MAG 깨어나|깨|일어나/V")),
    rule("method.how_much", M, f"{_PILLS}|알 ~5 먹|삼키/V %2 어야|으면|면/E ~2 죽/V"),
    rule("method.lethal_dose", M, "치사량/N"),
    rule("method.if_i_jump", M, "뛰어내리|뛰어들|떨어지|먹/VV %2 면|으면/EC ~4 죽|끝나/VV"),
    rule("method.sure_way", M, ("확실하|편하|편안하|깔끔하/VA 게/EC ~1 죽/VV",
                                "확실|편안|깔끔|편/XR|N 하/XSA 게/EC ~1 죽/VV",
                                "아프/VA 지/EC 않/VX 게/EC ~1 죽/VV", "덜/MAG 아프/VA 게/EC ~1 죽/VV",
                                "어떻/VA 게/EC ~4 죽|자살/V|N", "고통/NNG 없이/MAG ~1 죽/VV"), negatable=False),
    rule("method.how_deep", M, "얼마나|어떻|어디/* ~4 긋|그/V", "손목|팔|허벅지/N"),
    rule("method.where_to_jump", M, "뛰어내리|뛰어들/V", "어디|어떻|확실|몇|높/*"),
    rule("method.jump", M, ("뛰어내리|뛰어들/V %3 싶/VX", "뛰어내리|뛰어들/V %2 ᆯ까|을까/E")),
    rule("method.hanging", M, ("목/N ~1 매/V", "목매/V"), "아프|고통|걸리|얼마|어떻/*"),
    rule("method.where_to_get", M, "번개탄|밧줄|농약|수면제|청산가리/N ~4 어디|어떻/* ~3 사|살|구하|구입/*"),
    rule("method.charcoal", M, "번개탄|연탄/N ~3 피우/V %2 면|으면/EC"),
    # --- C-SSRS 4: intent ---------------------------------------------------------------------
    rule("intent.will_die", IN, _will(_DIE) + _will("자살/N 하/XSV") + _will("끝내/VV") + _will("끊/VV"),
         ("죽|뒤지/V", "자살/N", "목숨|인생|삶|생/N")),
    rule("intent.decided", IN, "결심|마음먹|각오/*", ("죽|뒤지/V", "자살/N")),
    rule("intent.last_day", IN, "마지막/NNG 날/NNG ~3 되/VV"),
    # --- C-SSRS 5: plan -----------------------------------------------------------------------
    rule("plan.plan", PL, ("계획/N", "날짜/N ~3 정하/V", "날/N ~3 정하/V"), _DEATH_WORD),
    rule("plan.method_and_intent", PL, tuple(f"{act} ~3 {will}" for act in _METHOD_ACT for will in _WILL)),
    rule("plan.booked", PL, "모텔|호텔|펜션|숙소|방/N ~3 예약/N", "끝내|죽/V"),
    # "친구가 한강 간다고 연락이 끊겼어요"
    rule("plan.place_and_silence", PL, f"{_PLACE} ~1 가|올라가/VV",
         ("연락/N ~3 끊기|두절/*", "연락/N ~2 안/MAG 되|받/V"), act=True),
    rule("plan.place_tonight", PL, ("옥상|난간|절벽|철로|선로/N 에/JKB 올라가|가/VV %3 려고|려고요|으려고|ᆯ/E",
                                    "다리|한강/N ~1 위/N? 에/JKB 올라가/VV %3 려고|려고요|으려고|ᆯ/E"),
         "오늘|밤|새벽|지금|내일|이따/N|MAG"),
    # --- C-SSRS 6: preparatory behaviour -----------------------------------------------------
    rule("preparation.note", PR, "유서/N", act=True),
    rule("preparation.means_bought", PR, ("번개탄|밧줄|로프|농약/N ~4 사|준비|구하|마련|구입|주문|구매|시키/*",
                                          "목/N ~1 매/V ~1 끈|줄/N ~3 준비|사|구하/*",
                                          "목매/V ~1 끈|줄/N ~3 준비|사|구하/*"), act=True),
    rule("preparation.pills", PR, ("수면제|약|진통제|수면유도제|신경안정제/NNG ~6 모으|쌓|사재기/*",
                                   "수면제|진통제|수면유도제/NNG ~5 사/VV %1 두|놓/VX"), act=True),
    rule("preparation.farewell", PR, ("작별/N ~1 인사/N", "마지막/N ~2 인사|편지|글|메시지|선물/N",
                                      "남기/V ~2 편지|쪽지|영상|유언/N"), act=True),
    rule("preparation.giving_away", PR, "물건|재산|옷|책/N ~8 나누|나눠주|주/V ~2 주/VX", "아끼|소중|전|모든/*",
         act=True),
    rule("preparation.bequest", PR, "물건|재산|통장|반려|고양이|강아지/N ~6 주/V 라고|으라고/E", act=True),
    rule("preparation.affairs", PR, "정리|맡기|지우/*", "떠나/V", "모든|통장|맡기|신변|영원히|유서|마지막/*", act=True),
    rule("preparation.affairs", PR, "신변/N ~1 정리/N", act=True),
    rule("preparation.rehearsal", PR, ("난간|다리|옥상/N ~3 가/VV 어/EC 보/VX 었/EP",
                                       "다리|옥상/N 에/JKB ~5 서/VV ~2 있/VX"), "난간|한강|옥상/N", act=True),
    rule("preparation.before_dying", PR, "죽/V 기/ETN 전/NNG ~6 지우|정리|남기|보내/V|N %2 었/EP", act=True),
    rule("preparation.means_ready", PR, "칼|약|끈|줄/N", "언제/NP ~3 하/VV ᆯ/ETM 수/NNB 있/V", act=True),
    # --- recent self-harm or an attempt ---------------------------------------------------------
    rule("self_harm.act", SH, ("자해/N ~2 하/V|XSV %1 었|었었/EP", "자해/N ~2 하/V|XSV ᆷ/E", "자해/N ~4 멈추|끊/V"),
         act=True),
    rule("self_harm.cut", SH, (f"{_BODY} ~4 긋|그/V %2 었|음|고/EP|E|EC", "긋/V %1 고/EC 말/VX", "긋/V ᆷ|음/E",
                               "또/MAG ~1 긋|그/V %1 었/EP", f"{_BODY} ~4 긋|그/V ᆫ|은/ETM 적/NNB"), act=True),
    rule("self_harm.wound", SH, ("상처/N ~2 내/VV", "지지/VV 었/EP", "피/N ~2 나|내/VV", "칼/N ~2 대/VV 었/EP"),
         "손목|팔|허벅지|몸|살|라이터|칼|커터|면도칼|면도날|머리/N", "긁|박|긋|그|지지|내|대/V", act=True),
    rule("self_harm.overdose", SH, (f"{_PILLS} ~5 한꺼번에|많이|통|번에|왕창|잔뜩|전부|몽땅/* ~3 먹|넣|삼키/V %2 었/EP",
                                    f"{_PILLS} ~3 털/V ~1 넣/V"), act=True),
    # "수면제 20알 먹었어요": two-digit counts only ("두통약 2알" is a dose).
    Rule("self_harm.overdose_count", SH, (re.compile(
        r"(?<= )(?:수면제|약|진통제|수면유도제|신경안정제)/N[^ ]* (?:[^ /]+/(?!SF)[^ ]* ){0,3}[1-9][0-9]+/SN "
        r"(?:알|정|개)/N[^ ]* (?:[^ /]+/(?!SF)[^ ]* ){0,3}(?:먹|삼키)/V[^ ]* "
        r"(?:[^ /]+/(?:E|J|VX|XS)[^ ]* ){0,2}었/EP"),),
         act=True, anchors=(frozenset({"수면제", "약", "진통제", "수면유도제", "신경안정제"}),)),
    rule("self_harm.overdose_treated", SH, f"{_PILLS} ~5 먹|삼키/V", "응급실|위세척|입원/N", act=True),
    rule("self_harm.attempt", SH, ("목/N ~1 매/V %1 었/EP", "목매/V %1 었/EP", "시도/N ~2 하/V|XSV %1 었/EP|ETM"),
         "죽|자살/V|N", act=True),
)

# --- the message as a whole ----------------------------------------------------------------

# A person other than the speaker, as the subject or the one being helped.
OTHER_PERSON = compile_seq(
    "친구|동생|여동생|남동생|엄마|어머니|아빠|아버지|부모|남편|아내|와이프|남친|여친|애인|언니|오빠|형|누나|아들|딸|"
    "후배|선배|동료|룸메이트|삼촌|이모|고모|할머니|할아버지|사촌|학생|제자|아이|조카|팀원|동기/N"
)
OTHER_AS_SUBJECT = compile_seq(
    "친구|동생|여동생|남동생|엄마|어머니|아빠|아버지|부모|남편|아내|와이프|남친|여친|애인|언니|오빠|형|누나|아들|딸|"
    "후배|선배|동료|룸메이트|삼촌|이모|고모|할머니|할아버지|사촌|학생|제자|아이|조카|팀원|동기/N %2 가|이|는|은|도/J"
)
# "친구 팔에 상처가": the other person's body or things.
OTHER_POSSESSIVE = compile_seq(
    "친구|동생|여동생|남동생|엄마|어머니|아빠|아버지|남편|아내|와이프|남친|여친|애인|언니|오빠|형|누나|아들|딸|"
    "후배|선배|동료|룸메이트|학생|제자|아이|조카/N 팔|손목|몸|다리|얼굴|방|가방|서랍|상처|흉터|유서/N"
)
# Reported speech: "싶대요", "하겠다고", "없다고 말해요", "죽고 싶다는 말을 했는데".
REPORTED = compile_seq("다고|라고|ᆫ다고|는다고|냐고|자고/E", "대요|래요|ᆫ대요|는대요|대|래|ᆫ대/E",
                       "다는|라는/ETM 말|문자|글/N")
# The speaker wants or means to (near a finding): makes a wish the speaker's own.
SELF_WISH = compile_seq("싶/VX", "으려고|려고|려고요|으려고요/E", "ᆯ|을/ETM 거|것/NNB 이/VCP", "ᆯ래|을래/E",
                        "기/ETN 로/J")
# A topic noun right after a finding: "자살 예방", "자살 뉴스", "자해 관련 논문".
TOPIC_NOUN = re.compile(r" (?:예방|뉴스|기사|률|통계|관련|교육|캠페인|센터|상담|유가족|보도)/[NX]")
FIRST_PERSON = compile_seq("나|저/NP %1 가|는|도|이/J", "내|제/NP", "내가|제가/*")
HELPING = compile_seq("돕|도와주|위로하|말리/V", "도움|위로/N", "어떻게|어떡하|어떻/* ~3 하|되/V", "모른/* 척/N")

MENTION_CUES = compile_seq(
    "뉴스|기사|소식|보도|드라마|영화|소설|책|웹툰|논문|캠페인|포스터|교육|예방|통계|센터|번호|효과|장례식|장례|"
    "유가족|연예인|가수|배우|유명인|아이돌|베르테르|자살률|주인공|인물|사망|장면|다큐|다큐멘터리|방송|프로그램/N",
    "률/XSN", "세상/N ~1 떠나/V", "돌아가시/V", "돌아가/V 시|으시/EP", "oecd/*",
)
HISTORY_CUES = compile_seq(
    "예전|옛날|한때|그때|과거|작년|재작년|옛적/*", "어리/* ~2 때/N", "*/NNG|XSN 때/NNG", "년/NNB 전/N",
    "적/NNB %2 있|없/V",
    "었었/EP", "던/ETM 적/NNB", "지금/* 은|는/JX ~2 괜찮|아니|안/*",
)
RECENT_CUES = compile_seq("어제|오늘|방금|요즘|요새|최근|지난주|이번|또|계속|매일|아까|밤|지금도|여전히|요즈음/N|MAG",
                          "지금/* 도/JX")
# Coping questions: "자해 충동을 다루는 방법" asks for help, not for a method.
COPING = compile_seq("다루|대처|참|이기|극복|멈추|줄이|막|견디|버티|안/V|N ~2 방법|법|는|게/*",
                     "예방/N", "도움/N ~2 받/V")
# "넘어져서 피가 났어요", "썰다가 베였어요": an accident, not self-harm.
ACCIDENT = compile_seq("넘어지|베이|다치|미끄러지|부딪치|부딪히/V", "실수|사고/N", "다가/EC")
# "작별 인사" before a move or a trip is a farewell, not a preparation.
BENIGN_PURPOSE = compile_seq("수업|학기|종강|교수|송별|전근|근무|고향|캠핑|등산|낚시|이삿짐|이사|전학|이민|유학|퇴사|"
                             "졸업|여행|출국|입대|군대|이직|휴가|출장/N")

# Negation right after a predicate: "죽고 싶지 않아요", "죽고 싶은 건 아니에요",
# "자살할 생각은 없어요", "자해는 안 해요". "생각밖에 안 들어요" (only that) is not one.
NEGATION_AFTER = re.compile(
    r"(?: [^ /]+/(?:E|J|XS)[^ ]*){0,3}"
    r" (?:지/EC(?: [^ /]+/J[^ ]*)? (?:않|말)/VX"
    r"|(?:[^ /]+/E[^ ]* )?(?:거|것|건|생각|정도|마음|계획|적)/N[^ ]*"
    r"(?: (?!밖에/)[^ /]+/J[^ ]*)?(?: (?!밖에/)[^ ]+){0,3}?"
    r" (?:아니/VCN|없/VA|않/VX|(?:안|못)/MAG (?:하|들|나)/V)"
    r"|[^ ]+(?: [^ ]+){0,5}? (?:거|것|건)/N[^ ]*(?: [^ /]+/J[^ ]*)? 아니/VCN"
    r"|안/MAG|못/MAG)"
)

_EN = r"(?<![a-z'])"
ENGLISH_RULES: tuple[tuple[str, Level, re.Pattern[str]], ...] = (
    ("english.self_harm", SH, re.compile(
        _EN + r"(?:cut|burn(?:ed|t)?|hurt) myself|took (?:a whole bottle|all (?:of )?(?:my|the) pills)|overdosed"
        r"|self[ -]?harm\S*\s*했|i self[ -]?harm"
        r"|(?:i|i've|i have) (?:self[ -]?harmed|attempted suicide (?:last|this|yesterday)) ")),
    ("english.preparation", PR, re.compile(_EN + r"suicide note|saving up pills|(?:bought|got) (?:a )?rope")),
    ("english.plan", PL, re.compile(_EN + r"plan to (?:kill myself|end my life|die)|have a plan")),
    ("english.intent", IN, re.compile(
        _EN + r"(?:going to|gonna|will) (?:kill myself|end (?:my life|it))|i'?m going to die tonight")),
    ("english.method", M, re.compile(
        _EN + r"(?:painless|easiest|quickest) way to die|how (?:many pills|much) .{0,30}(?:kill|die)"
        r"|how (?:to|do i|can i) (?:kill myself|die)|painless\s*하게")),
    ("english.active", A, re.compile(
        _EN + r"suicid(?:e|al)|kill(?:ing)? (?:myself|herself|himself|themselves)"
        r"|end(?:ing)? my (?:own )?life|end it all")),
    ("english.passive", P, re.compile(
        _EN + r"(?<!don't )(?<!do not )(?<!never )(?:want|wanna) (?:to )?die"
        r"|wish (?:i|i'd) (?:was|were|had) (?:dead|died)|(?:don't|do not) want to (?:live|be alive|exist|be here)"
        r"|(?:never|not) wake up|disappear forever|no reason to live|done with life|better off dead")),
)
ENGLISH_HISTORY = re.compile(r"(?<![a-z])(?:years ago|used to|in the past|when i was)")
ENGLISH_OTHER = re.compile(r"(?<![a-z])(?:my (?:friend|sister|brother|mom|dad|mother|father|son|daughter|partner|"
                           r"boyfriend|girlfriend)|(?:she|he|they) (?:says|said|wants|is|was|told))")

# --- surface rules (before morphology) -----------------------------------------------------

# Recognised, then removed: the rest of the message is still screened ("자살골 먹고 진짜
# 죽고 싶다" is flagged). Words in between are bounded (\S{1,12}, not \S+): an unbounded
# one backtracks on a long unspaced run (6 s for the 5,400 "폰" a counseling frame holds).
IDIOMS = compile_nfkc(
    r"자살\s?골", r"유서\s?(?:가\s?)?깊", r"suicide squad",
    # Exaggeration: "배고파 죽겠어", "보고 싶어 죽겠어"; "죽겠다고" (a reported threat) stays.
    r"(?<=[어아워와해여러파퍼겨]) ?죽겠(?!다고)\S*", r"(?:^|(?<=\s))죽겠(?:다|네|어|음|당)(?!고)\S*",
    r"죽을\s?것\s?같이\s?\S+", r"죽을\s?맛", r"죽는\s?줄\s?알았\S*", r"죽는\s?줄", r"죽을\s?뻔\S*",
    r"죽었다\s?깨어나도",
    r"얼어\s?죽\S*", r"시간\s?(?:을\s?)?죽이\S*", r"기가?\s?죽\S*", r"죽어도\s?(?:안|못)\s?\S+",
    r"(?:맛|노래|날씨|영화|라이브|목소리|경치|뷰)\S{0,3}\s?(?:\S{1,12}\s)?(?:진짜\s|정말\s)?"
    r"죽(?:이네|여줘|여주|인다|이더라|이는|여요|였어)\S*",
    r"(?<!\S)죽(?:이네|여줘요|여줘|인다|이더라)(?!고)\S*",
    r"(?:게임|캐릭터|배터리|엔진|화분|식물|폰|핸드폰|노트북|컴퓨터|서버|렉|시동)\S{0,4}\s?(?:\S{1,12}\s){0,2}죽\S*",
    r"쥐구멍", r"잠수\s?타", r"dying (?:of|from) laugh\S*", r"kills me lol", r"killing it",
)
# Internet spellings Kiwi does not know.
SLANG = (
    (compile_nfkc(r"(?<!ㅈㅅ)ㅈㅅ(?!\s?(?:합니다|해요|함|ㅈㅅ|요|했|하다|하네))"), "자살"),
    (compile_nfkc(r"자살각"), "자살 각"),
    (compile_nfkc(r"살기\s?실"), "살기 싫"),
    (compile_nfkc(r"고\s?십(?=[다어음])"), "고 싶"),
    (compile_nfkc(r"시퍼|싶당|시포"), "싶어"),
    (compile_nfkc(r"주그?고\s?싶"), "죽고 싶"),
    (compile_nfkc(r"마렵"), " 하고 싶"),
)
# Jamo runs ("ㅠㅠ", "ㅋㅋ") confuse the analyser: after NFKC they are conjoining jamo.
JAMO = re.compile("[\u1100-\u11ff\u3130-\u318f]+")
