"""The offline customs responder: honest Korean guidance written from rules, no LLM.

It never states figures that change (duty rates, thresholds, dates): it explains how a
procedure works in general, names the official place that holds the current answer, and
says plainly that it is not a live source. Registered for product "customs".
"""

from __future__ import annotations

import re

from conversations.llm import ChatRequest

_HELP = ("정확한 최신 기준은 관세법령정보포털(unipass.customs.go.kr/clip)이나 관세청 고객지원센터(국번 없이 125)에서 "
         "확인해 주세요.")

# (pattern, guidance): the first matching topics answer, at most two.
_TOPICS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"fta|원산지|특혜", re.I),
     "FTA 특혜관세를 받으려면 수입물품이 해당 협정의 원산지 기준(품목별 원산지 결정기준)을 충족하고, "
     "수입신고 때 원산지증명서 등 협정에서 정한 증빙을 갖춰 협정관세 적용을 신청해야 합니다. "
     "품목의 HS 코드에 따라 기준이 달라지므로 먼저 HS 코드를 확정하는 것이 좋습니다. 협정별 기준은 관세청 FTA 포털에서 "
     "확인할 수 있습니다."),
    (re.compile(r"환급"),
     "관세 환급은 수출용 원재료를 수입할 때 낸 관세를 수출 후 돌려받는 제도(간이정액환급·개별환급)와, 잘못 내거나 "
     "많이 낸 세금을 돌려받는 과오납 환급 등이 있습니다. 신청 기한과 필요 서류는 환급 종류마다 다르므로 관세청 안내를 "
     "확인하시거나 관세사와 상담해 보세요."),
    (re.compile(r"개인통관|고유부호|직구|해외구매|목록통관"),
     "해외 직구 물품은 수입신고 때 본인 확인을 위해 개인통관고유부호가 필요하며, UNI-PASS에서 발급받을 수 있습니다. "
     "면세 한도와 목록통관 대상 여부는 물품 종류와 발송 국가에 따라 다르고 바뀔 수 있으니 관세청 안내에서 최신 기준을 "
     "확인해 주세요."),
    (re.compile(r"수입\s*신고|통관\s*절차|수입\s*절차|통관\s*보류"),
     "일반적인 수입통관은 화물 입항과 보세구역 반입 뒤 수입신고를 하고, 세관의 심사(필요하면 검사)를 거쳐 관세와 "
     "부가가치세를 납부하면 신고가 수리되어 물품을 반출할 수 있습니다. 다른 법령의 요건(식품·전기용품 인증 등)이 "
     "있는 물품은 그 확인을 먼저 받아야 통관됩니다. 진행 상황은 UNI-PASS 화물통관진행정보에서 B/L 번호나 "
     "화물관리번호로 조회할 수 있습니다."),
    (re.compile(r"수출\s*신고|수출\s*절차|전략물자"),
     "수출은 물품을 선적하기 전에 수출신고를 하고 수리를 받아야 하며, 수리된 물품은 정해진 기간 안에 선적해야 "
     "합니다. 전략물자에 해당할 수 있는 품목은 수출허가가 필요한지 전략물자 관리시스템(yestrade.go.kr)에서 먼저 "
     "확인해 주세요."),
    (re.compile(r"세율|관세율|관세\s*얼마|부가세|과세|세금"),
     "수입물품에 붙는 세금은 HS 코드별 관세율과 과세가격(보통 물품가격에 운임·보험료를 더한 금액)으로 계산하며, "
     "여기에 부가가치세와 품목에 따라 개별소비세 등이 더해질 수 있습니다. 정확한 세율은 HS 코드를 확정한 뒤 "
     "관세법령정보포털의 관세율표에서 확인할 수 있습니다. HS 코드가 궁금하시면 제품 이름과 재질·용도를 알려 주세요."),
    (re.compile(r"식품|의약품|화장품|건강기능|전기용품|kc\s*인증|검역|리튬|배터리", re.I),
     "식품·의약품·화장품·전기용품처럼 다른 법령의 관리를 받는 물품은 통관 전에 해당 기관의 요건 확인(수입신고·검사·"
     "인증 등)이 필요할 수 있습니다. 어떤 요건이 적용되는지는 HS 코드와 용도에 따라 정해지므로, 관세법령정보포털의 "
     "세관장확인대상 물품 안내나 소관 기관에서 확인해 주세요."),
)

_NEWS = ("저는 실시간 뉴스를 조회할 수 없어서 최신 소식을 직접 알려 드리지는 못합니다. 관세·무역 관련 발표는 관세청 "
         "보도자료(customs.go.kr)와 한국무역협회(kita.net)에서, 수출입 실적은 관세청 수출입 무역통계(tradedata.go.kr)"
         "에서 확인하실 수 있습니다.")
_GREETING = re.compile(r"^(안녕|반가|하이|hello|hi\b|헬로)", re.I)
_INTRO = ("안녕하세요! 관세·무역 도우미입니다. 화물번호(컨테이너, B/L, 항공화물운송장, 화물관리번호)로 통관 진행을 "
          "조회하거나, 제품의 HS 코드 분류, 수출입 절차와 규정에 대한 안내를 도와드릴 수 있어요.")
_FALLBACK = ("질문하신 내용에 대해 제가 가진 규칙만으로는 정확히 답하기 어렵습니다. 품목, 수출입 방향(수입/수출), 상대 "
             "국가를 함께 알려 주시면 관련 절차와 확인할 곳을 안내해 드릴게요.")


def customs_reply(request: ChatRequest) -> str:
    text = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    intent = request.context.get("intent")
    parts: list[str] = []
    if intent == "news_inquiry":
        parts.append(_NEWS)
    topics = [guidance for pattern, guidance in _TOPICS if pattern.search(text)][:2]
    parts += topics
    if not parts:
        parts.append(_INTRO if _GREETING.search(text.strip()) else _FALLBACK)
    if topics or intent in ("regulatory_inquiry", "news_inquiry"):
        parts.append(_HELP)
    parts.append("(이 답변은 오프라인 규칙으로 작성되었으며 법적 효력이 있는 안내가 아닙니다.)")
    return "\n\n".join(parts)
