"""Every text the dashboard shows, in Russian, in one place."""

TITLE = "SalesControl — допродажи"

# navigation
NAV_OVERVIEW = "Обзор"
NAV_DIALOGUES = "Диалоги"
NAV_DEVICES = "Устройства"
NAV_PIPELINE = "Обработка"
LOGOUT = "Выйти"

# login page (rendered by dashboard/login.html)
LOGIN_TITLE = "Вход в SalesControl"
LOGIN_PROMPT = "Введите Admin Token"
LOGIN_BUTTON = "Войти"
LOGIN_ERROR = "Неверный токен"
LOGOUT_DONE = "Вы вышли."
LOGIN_AGAIN = "Войти снова"

# filters
DATE_FROM = "С"
DATE_TO = "По"
POINT = "Точка"
REGISTER = "Касса"
ALL = "Все"
ANY = "Любой"
YES = "Да"
NO = "Нет"
ATTEMPTED = "Допродажа предложена"
ACCEPTED = "Покупатель согласился"
QUALITY = "Оценка качества"
SEARCH = "Поиск по тексту"
SEARCH_HINT = "слово или фраза из расшифровки"
SORT = "Сортировка"
SORT_DESC = "По убыванию"
APPLY = "Применить"
SORTS = {
    "started_at": "Время",
    "quality": "Оценка",
    "duration": "Длительность",
    "point": "Точка",
}

# overview
KPI_DIALOGUES = "Диалогов"
KPI_ATTEMPT_RATE = "Доля допродаж"
KPI_ACCEPTANCE_RATE = "Доля согласий"
KPI_QUALITY = "Средняя оценка"
TREND = "По дням"
TREND_DIALOGUES = "диалогов"
TREND_ATTEMPT = "доля допродаж, %"
RANKING = "Сравнение точек и касс"
TOP_PRODUCTS = "Что чаще всего предлагали"
NO_DATA = "Нет данных за выбранный период."
NO_VALUE = "—"

# table columns
COLUMNS = {
    "started_at": "Начало",
    "point_name": "Точка",
    "register_name": "Касса",
    "duration_sec": "Длит., с",
    "asr_status": "Расшифровка",
    "analysis_status": "Анализ",
    "attempted": "Допродажа",
    "accepted": "Согласие",
    "quality_score": "Оценка",
    "summary": "Кратко",
    "needs_review": "На проверку",
    "dialogues": "Диалогов",
    "analysed": "Проанализировано",
    "attempt_rate": "Доля допродаж, %",
    "acceptance_rate": "Доля согласий, %",
    "mean_quality": "Средняя оценка",
    "product": "Товар",
    "offered": "Предложен",
    "day": "День",
    "status": "Статус",
    "count": "Количество",
    "last_created": "Последний",
    "stage": "Что",
    "id": "Идентификатор",
    "updated_at": "С тех пор",
    "chunk_id": "Чанк",
    "device_id": "Устройство",
    "error": "Ошибка",
    "is_enabled": "Вкл.",
    "last_seen_at": "На связи",
    "queue": "Очередь",
    "disk": "Диск",
    "last_health_at": "Отчёт",
    "subscription": "Подписка",
    "source": "Откуда",
}
# the seed's statuses (audio_chunks.status, dialogues.asr_status / analysis_status)
STATUSES = {
    "AWAITING_UPLOAD": "ждёт загрузки",
    "UPLOADED": "загружен",
    "PROCESSING": "в работе",
    "DONE": "готово",
    "REJECTED": "отклонён",
    "PENDING": "ожидает",
    "QUEUED": "в очереди",
    "FAILED": "ошибка",
    "SKIPPED": "пропущен",
}
# The pipeline stages of salescontrol.backlog.
STAGES = {"vad": "чанк", "asr": "расшифровка", "analyze": "анализ"}
OPEN = "Открыть"
PAGE = "Страница {page} из {pages} · найдено {total}"
PREV = "← Назад"
NEXT = "Вперёд →"

# dialogue view
DIALOGUE = "Диалог"
NOT_FOUND = "Диалог не найден."
BACK = "← К списку диалогов"
TRANSCRIPT = "Расшифровка"
TRANSCRIPT_HINT = "Нажмите на реплику, чтобы прослушать с этого места."
NO_TRANSCRIPT = "Расшифровки пока нет (статус: {status})."
NO_AUDIO = "Аудио недоступно."
ANALYSIS = "Анализ"
NO_ANALYSIS = "Анализа пока нет (статус: {status})."
OFFERS = "Предложения"
NO_OFFERS = "Продавец ничего не предлагал."
OFFER_ACCEPTED = "принято"
OFFER_DECLINED = "не принято"
SUMMARY = "Кратко"
RECOMMENDATION = "Рекомендация"
ANALYZER = "Анализатор"
MODEL = "Модель"
PROMPT_VERSION = "Версия промпта"
NOT_SALES = "Это не разговор о покупке."
REVIEW = "На проверку"
RERUN_ANALYSIS = "Повторить анализ"
RERUN_ASR = "Точная расшифровка"
RERUN_SENT = "Запрос отправлен: {what}."
RERUN_FAILED = "Не удалось отправить запрос: {error}"
SEGMENT_START = "С"
SEGMENT_END = "По"
SEGMENT_TEXT = "Реплика"

# devices
DEVICES = "Устройства"
NEW_DEVICE = "Новое устройство"
DEVICE_ID = "ID устройства (пусто — создать)"
POINT_ID = "ID точки (пусто — новая)"
POINT_NAME = "Название точки"
REGISTER_ID = "ID кассы (пусто — новая)"
REGISTER_NAME = "Название кассы"
REGISTER_BUTTON = "Зарегистрировать"
TOKEN_ONCE = (
    "Устройство {device_id} зарегистрировано. Токен показывается один раз — "
    "сохраните его в config.yaml устройства:"
)
ENABLE = "Включить"
DISABLE = "Отключить"
SELECT_DEVICE = "Устройство"
DEVICE_SAVED = "Устройство {device_id}: {state}."
ENABLED = "включено"
DISABLED = "отключено"
BAD_UUID = "«{value}» — не UUID."
ERROR = "Ошибка: {error}"

# pipeline
CHUNKS = "Чанки по статусам"
DIALOGUE_STATUSES = "Диалоги по статусам"
STUCK = "Зависшие дольше {minutes} мин: {total}"
REJECTED = "Отклонённые чанки"
DEAD_LETTERS = "Недоставленные сообщения (dead letter)"
DEAD_LETTERS_NOTE = "Число — нижняя граница по одной выборке без подтверждения (до 1000 сообщений)."
UNAVAILABLE = "недоступно"
NOTHING = "Нет."

# errors
PAGE_FAILED_TITLE = "Страница недоступна"
PAGE_FAILED = "Не удалось получить данные: {error}. Попробуйте обновить страницу позже."
