"""Korean math vocabulary of the high-school curriculum: units, sub-topics and intents.

Patterns run on the question as written (after Unicode normalisation), because Kiwi
splits compound terms ("이차함수" → 이차 + 함수) that the curriculum names as one unit.
"""

from __future__ import annotations

import re

# Units of the Korean high-school curriculum (공통수학, 수학Ⅰ·Ⅱ, 미적분, 확률과 통계, 기하),
# most specific first: the first matches lead the tag list.
UNITS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (tag, re.compile(pattern, re.IGNORECASE))
    for tag, pattern in (
        ("인수분해", r"인수\s*분해"),
        ("다항식", r"다항식|단항식|동류항|내림차순|오름차순|전개|곱셈\s*공식|나머지\s*정리|인수\s*정리|조립\s*제법|항등식"),
        ("복소수", r"복소수|허수|허근|켤레"),
        ("이차방정식", r"이차\s*방정식|근의\s*공식|판별식|근과\s*계수"),
        ("이차함수", r"이차\s*함수|포물선|꼭짓점|꼭지점|대칭축|축의\s*방정식"),
        ("방정식과 부등식", r"(?<!접선의 )(?<!직선의 )(?<!원의 )(?<!축의 )(?<!접선의)(?<!직선의)(?<!원의)(?<!축의)방정식|부등식|연립"),
        ("도형의 방정식", r"직선의\s*방정식|원의\s*(방정식|중심|넓이)|반지름|원\s+[a-z(]|두\s*점\s*사이|내분점|외분점|평행\s*이동|대칭\s*이동|좌표평면"),
        ("집합과 명제", r"집합|부분집합|교집합|합집합|여집합|명제|필요\s*조건|충분\s*조건|대우|귀류법"),
        ("함수", r"합성\s*함수|역함수|일대일|정의역|치역|공역|유리\s*함수|무리\s*함수"),
        ("경우의 수", r"경우의\s*수|순열|조합|팩토리얼|이항\s*정리|중복\s*(순열|조합)|\d\s*!"),
        ("지수와 로그", r"지수|로그|log|ln\b|거듭\s*제곱근|상용\s*로그"),
        ("삼각함수", r"삼각\s*함수|삼각비|사인|코사인|탄젠트|sin|cos|tan|라디안|호도법"),
        ("수열", r"수열|등차|등비|시그마|∑|Σ|점화식|귀납법|일반항|공차|공비"),
        ("극한", r"극한|lim|수렴|발산|연속|무한대|∞|→|->"),
        ("미분", r"미분|미적분|도함수|접선|증가|감소|극값|극댓값|극솟값|극대|극소|변곡점|변화율|d/d[a-z]"),
        ("적분", r"적분|미적분|∫|\\int|넓이|부피|원시\s*함수"),
        ("확률", r"확률|조건부|독립\s*사건|배반|기댓값|표본\s*공간|사건"),
        ("통계", r"통계|평균|분산|표준\s*편차|정규\s*분포|이항\s*분포|확률\s*분포|표본|모평균|신뢰\s*구간|추정"),
        ("벡터", r"벡터|내적|위치\s*벡터"),
        ("이차곡선", r"이차\s*곡선|타원|쌍곡선|초점|준선"),
        ("행렬", r"행렬"),
        ("수와 연산", r"소수|약수|배수|유리수|무리수|정수|자연수|절댓값|절대값|제곱근"),
    )
)

# Finer topics that make a question specific ("그래프", "꼭짓점"…), also reported as tags.
SUBTOPICS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (tag, re.compile(pattern, re.IGNORECASE))
    for tag, pattern in (
        ("그래프", r"그래프|개형"),
        ("꼭짓점", r"꼭짓점|꼭지점"),
        ("근의 공식", r"근의\s*공식"),
        ("판별식", r"판별식"),
        ("근과 계수의 관계", r"근과\s*계수"),
        ("최대·최소", r"최댓값|최솟값|최대|최소|극댓값|극솟값"),
        ("접선", r"접선"),
        ("도함수", r"도함수|미분\s*계수"),
        ("정적분", r"정적분|넓이"),
        ("부정적분", r"부정\s*적분|원시\s*함수"),
        ("등차수열", r"등차"),
        ("등비수열", r"등비"),
        ("수열의 합", r"시그마|∑|Σ|수열.{0,6}합|합.{0,6}수열|등[차비].{0,8}합"),
        ("점화식", r"점화식|귀납"),
        ("조건부확률", r"조건부"),
        ("순열", r"순열"),
        ("조합", r"조합"),
        ("나머지정리", r"나머지\s*정리|인수\s*정리"),
        ("사인법칙·코사인법칙", r"사인\s*법칙|코사인\s*법칙"),
        ("주기", r"주기"),
        ("연속", r"연속"),
        ("정규분포", r"정규\s*분포"),
    )
)

# What kind of knowledge the student asks for (K1–K4), in the order they win:
# a strategy question that also says "방법" is still about strategy.
K4_INTENT = re.compile(
    r"전략|계획|접근|어디서부터|어디부터|막혀|막히|막힌|막혔|실수|틀렸|틀린|틀리|오답|점검|검토|공부\s*(법|방법|계획|순서)|"
    r"어떻게\s*공부|공부.{0,4}어떻게|공부하는\s*(법|방법)|시험\s*(준비|대비)|효율|약점|반성|다른\s*풀이|풀이\s*방향|감이\s*안|"
    r"시작을\s*못|손을\s*못|어떤\s*순서로|헷갈려서\s*틀|문제\s*해결\s*(방법|전략)|[0-9]\s*등급|성적|점수\s*(를\s*)?올리"
)
K2_INTENT = re.compile(
    r"왜|이유|차이|관계|비교|원리|성립|유도|증명|직관|연결|공통점|다른\s*점|같은\s*건가|같은\s*거|"
    r"의미(?!\s*가\s*뭐)|어떤\s*뜻을\s*가지|이해가\s*안|개념적으로|본질"
)
K3_INTENT = re.compile(
    r"방법|어떻게|풀어|풀이|푸는|풀면|풀까|풀지|구하|구해|계산|단계|과정|순서|그리는|그리기|그려|그릴|"
    r"전개해|인수분해\s*해|인수분해\s*하|미분해|미분하|적분해|적분하|정리해|간단히|나타내|변형"
)
K1_INTENT = re.compile(
    r"뜻|정의|이란|란\s*(뭐|무엇)|뭐야|뭐예요|뭐에요|뭔가요|뭐지|뭐임|뭡니까|무엇|무슨\s*의미|공식|기호|용어|"
    r"값은|값이|의\s*값|얼마|종류|읽는|성질|조건이\s*뭐"
)
# Kiwi lemmas that carry the same intents when the surface form varies (풀었는데, 구하시오…).
K3_LEMMAS = frozenset({"풀", "구하", "계산", "그리", "나타내", "전개", "변형"})
K4_LEMMAS = frozenset({"막히", "틀리", "전략", "계획", "접근", "실수", "점검", "검토", "오답"})

# Task words the solver reads.
SOLVE = re.compile(r"풀어|풀이|푸는|풀면|풀기|풀어줘|해를|해는|근을|근은|근이|구하|구해|방정식|부등식|연립|만족|값을|값은|값이")
FACTOR = re.compile(r"인수\s*분해")
EXPAND = re.compile(r"전개")
DIFF = re.compile(r"미분|도함수|접선|d/d[a-z]|기울기")
INTEGRATE = re.compile(r"적분|∫|\\int|원시\s*함수|넓이")
VERTEX = re.compile(r"꼭짓점|꼭지점|대칭축|축의\s*방정식|축은|축을|최댓값|최솟값|최대|최소|그래프|개형|포물선|표준형")
LIMIT = re.compile(r"극한|lim|수렴|->|→|으로\s*갈\s*때|로\s*갈\s*때|다가갈\s*때")
SIMPLIFY = re.compile(r"간단히|계산|정리|값")

# Cheating or clearly outside a math tutor's job.
CHEATING = re.compile(
    r"커닝|컨닝|부정\s*행위|대리\s*시험|몰래|감독\s*(몰래|안\s*볼)|"
    r"(지금|현재)\s*(시험|모의고사|수행\s*평가|퀴즈)|"
    r"(시험|모의고사|수능|수행\s*평가|퀴즈)\s*(보는|치는|치르는|푸는)?\s*중(이|인|에|이에요|이야|입니다)"
)
# Words that say a question is about maths at all, beyond unit names and formulas.
MATH_WORDS = re.compile(
    r"수학|문제|풀이|공식|계산|숫자|함수|그래프|함숫값|정리|증명|좌표|도형|넓이|길이|비율|분수|소수|"
    r"약수|배수|정수|실수|자연수|유리수|무리수|제곱|루트|미지수|변수|상수|계수|차수|나눗셈|"
    r"덧셈|뺄셈|곱셈|비례|평면|공간|직선|삼각형|사각형|내신|수능|모의고사|수학Ⅰ|수학Ⅱ|미적분|기하|확통|고[123]"
)
# One-syllable maths nouns ("근", "해", "식"…) count only as Kiwi nouns: "추천해줘" holds no 해.
MATH_NOUNS = frozenset({"값", "식", "근", "해", "항", "곱", "합", "차", "각", "변", "원", "점", "선", "수"})
# The question points at a problem it does not contain.
MISSING_PROBLEM = re.compile(r"이\s*문제|이거|이것|저\s*문제|다음\s*문제|위\s*문제|그\s*문제|이\s*식|아래\s*문제|사진|숙제|과제")
WIDE_SCOPE = re.compile(r"전부|전체|모든\s*(것|걸|개념|내용)|다\s*(알려|설명|정리)|처음부터\s*끝까지|총정리|한\s*번에\s*다|모두\s*(알려|설명)")
VAGUE_HELP = re.compile(r"어려워|어렵다|어렵네|모르겠|도와|헬프|help|못하겠|싫어|포기")
# Common confusions of terms, with what each side means (asked back in the clarification).
CONFUSIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"방정식(?!.*함수).{0,8}(꼭짓점|꼭지점|그래프|대칭축)"),
     "'이차방정식'의 해(근)를 구하려는 건가요, 아니면 '이차함수' 그래프의 꼭짓점이나 모양을 알고 싶은 건가요?"),
    (re.compile(r"미분.{0,10}넓이|넓이.{0,10}미분"),
     "넓이는 보통 '적분'으로 구해요. 넓이를 구하려는 건가요, 아니면 접선의 기울기(미분)를 구하려는 건가요?"),
    (re.compile(r"적분.{0,10}(기울기|접선)|(기울기|접선).{0,10}적분"),
     "접선의 기울기는 '미분'으로 구해요. 기울기(미분)를 구하려는 건가요, 아니면 넓이(적분)를 구하려는 건가요?"),
    (re.compile(r"등차.{0,10}공비|등비.{0,10}공차"),
     "등차수열은 '공차'(더하는 수), 등비수열은 '공비'(곱하는 수)를 써요. 어느 수열에 대한 질문인가요?"),
    (re.compile(r"순열.{0,15}순서.{0,4}(상관\s*없|상관없|무관|고려\s*안)|조합.{0,15}순서.{0,4}(중요|고려|있)"),
     "순서를 생각하면 '순열', 순서를 생각하지 않으면 '조합'이에요. 뽑은 것의 순서가 중요한 상황인가요?"),
)

# Curriculum words Kiwi should keep whole.
USER_WORDS: tuple[str, ...] = (
    "이차함수", "이차방정식", "삼차함수", "일차함수", "극한값", "꼭짓점", "대칭축", "판별식", "도함수", "미분계수",
    "정적분", "부정적분", "원시함수", "등차수열", "등비수열", "점화식", "조건부확률", "표준편차", "정규분포",
    "인수분해", "나머지정리", "삼각함수", "지수함수", "로그함수", "합성함수", "역함수", "극댓값", "극솟값",
)
