"""Official resources offered as detail buttons; staff edit or add more in admin."""

from __future__ import annotations

from typing import Any

from django.db import migrations

GENERAL, NEWS, REGULATORY = "general_chat", "news_inquiry", "regulatory_inquiry"

LINKS: list[dict[str, Any]] = [
    {"title": "관세법령정보포털", "description": "관세법·시행령·고시·훈령과 품목분류 사례를 찾아봅니다",
     "action_type": "regulation", "url": "https://unipass.customs.go.kr/clip/index.do",
     "intents": [REGULATORY, GENERAL], "keywords": [], "priority": 10},
    {"title": "국가법령정보센터", "description": "관세법 등 법령 원문과 개정 이력을 확인합니다",
     "action_type": "regulation", "url": "https://www.law.go.kr",
     "intents": [REGULATORY], "keywords": [], "priority": 20},
    {"title": "UNI-PASS 전자통관", "description": "수출입 신고, 화물 통관 진행 조회, 개인통관고유부호 발급",
     "action_type": "cargo_tracking", "url": "https://unipass.customs.go.kr",
     "intents": [], "keywords": ["통관", "화물", "신고", "개인통관", "직구", "배송"], "priority": 15},
    {"title": "FTA 포털", "description": "협정별 원산지 기준과 특혜관세 적용 절차를 안내합니다",
     "action_type": "fta", "url": "https://www.customs.go.kr/ftaportalkor/main.do",
     "intents": [REGULATORY, GENERAL, NEWS], "keywords": ["fta", "원산지", "특혜", "협정"], "priority": 5},
    {"title": "관세청", "description": "관세청 공지사항과 보도자료, 민원 안내",
     "action_type": "news", "url": "https://www.customs.go.kr",
     "intents": [NEWS, GENERAL, REGULATORY], "keywords": [], "priority": 30},
    {"title": "수출입 무역통계", "description": "품목별·국가별 수출입 실적 통계(관세청)",
     "action_type": "statistics", "url": "https://tradedata.go.kr",
     "intents": [NEWS, GENERAL], "keywords": ["통계", "실적", "수출액", "수입액", "동향"], "priority": 25},
    {"title": "한국무역협회", "description": "무역 뉴스와 해외 시장·규제 동향",
     "action_type": "news", "url": "https://www.kita.net",
     "intents": [NEWS], "keywords": [], "priority": 35},
    {"title": "전략물자 관리시스템", "description": "수출 품목의 전략물자 해당 여부와 허가 절차",
     "action_type": "regulation", "url": "https://www.yestrade.go.kr",
     "intents": [], "keywords": ["전략물자", "수출허가", "이중용도"], "priority": 8},
    {"title": "수입식품정보마루", "description": "수입 식품의 신고 절차와 기준(식품의약품안전처)",
     "action_type": "regulation", "url": "https://impfood.mfds.go.kr",
     "intents": [], "keywords": ["식품", "건강기능식품", "농산물", "수산물"], "priority": 8},
]


def add_links(apps: Any, schema_editor: Any) -> None:
    DetailLink = apps.get_model("customs", "DetailLink")  # noqa: N806 - Django's idiom
    for link in LINKS:
        DetailLink.objects.get_or_create(url=link["url"], title=link["title"], defaults=link)


def remove_links(apps: Any, schema_editor: Any) -> None:
    DetailLink = apps.get_model("customs", "DetailLink")  # noqa: N806
    for link in LINKS:
        DetailLink.objects.filter(url=link["url"], title=link["title"]).delete()


class Migration(migrations.Migration):
    dependencies = [("customs", "0001_intents_shipments_detail_links")]
    operations = [migrations.RunPython(add_links, remove_links)]
