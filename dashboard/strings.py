"""Every text the dashboard shows, in Russian, in one place."""

from salescontrol import analytics

TITLE = "SalesControl — допродажи"

# navigation
NAV_OVERVIEW = "Обзор"
NAV_DIALOGUES = "Диалоги"
NAV_DEVICES = "Устройства"
NAV_PIPELINE = "Обработка"
LOGOUT = "Выйти"

# login, logout and password pages (dashboard/templates/)
LOGIN_TITLE = "Вход в SalesControl"
LOGIN_USER = "Пользователь"
LOGIN_PROMPT = "Пароль"
LOGIN_BUTTON = "Войти"
LOGIN_ERROR = "Неверное имя пользователя или пароль"
LOGIN_THROTTLED = "Слишком много попыток входа. Попробуйте через {minutes} мин."
LOGOUT_CONFIRM = "Выйти из SalesControl ({user})?"
LOGOUT_DONE = "Вы вышли."
LOGIN_AGAIN = "Войти снова"
FORBIDDEN = "Запрос отклонён: откройте страницу заново и повторите."
PASSWORD_TITLE = "Смена пароля"
PASSWORD_CURRENT = "Текущий пароль"
PASSWORD_NEW = "Новый пароль"
PASSWORD_AGAIN = "Новый пароль ещё раз"
PASSWORD_BUTTON = "Сменить пароль"
PASSWORD_WRONG = "Текущий пароль неверен"
PASSWORD_MISMATCH = "Новые пароли не совпадают"
PASSWORD_WEAK = "Пароль должен быть не короче {n} символов и не совпадать с именем"
PASSWORD_CHANGED = "Пароль изменён. Другие сеансы этого пользователя завершены."
GO_HOME = "На главную"

# who is signed in (the sidebar)
ROLES = {"owner": "владелец", "manager": "управляющий", "viewer": "наблюдатель"}
SIGNED_IN = "{name} ({role})"
CHANGE_PASSWORD = "Сменить пароль"
SESSION_ENDED = "Сеанс завершён (выход, смена пароля или изменение прав). Войдите снова."
NOT_ALLOWED = "Недостаточно прав для этого действия."

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

# receipts (issue 21)
RECEIPT = "Чек"
RECEIPT_HEADER = "Чек № {number} · {time} · ККТ {kkt}"
RECEIPT_CASHIER = "Кассир: {operator}"
NO_RECEIPT = "Чека к этому диалогу нет."
RECEIPT_TOTAL = "Итого"
RECEIPT_UPSOLD = "допродажа"
RECEIPT_CHECK = "Проверка по чеку"
CHECK_STATUSES = {
    "confirmed": "в чеке: {name}, +{amount}",
    "not_bought": "в чеке нет",
    "no_receipt": "чека нет",
}
RECEIPT_CONTRADICTION = "Анализ считает, что покупатель согласился, но чек этого не подтверждает."
RECEIPTS = "Чеки"
KPI_RECEIPTS_MATCHED = "Чеков с диалогом"
KPI_CHECK_WITH = "Средний чек с допродажей"
KPI_CHECK_WITHOUT = "Средний чек без допродажи"
KPI_UPSELL_REVENUE = "Выручка допродаж по чекам"
RECEIPTS_BY_PLACE = "Чеки по точкам и кассам"
RECEIPTS_BY_SELLER = "Чеки по кассирам"
UNASSIGNED = "Чеки неизвестных ККТ: {total}"
UNASSIGNED_NOTE = (
    "Укажите регистрационный номер ККТ у кассы (kkt_reg_id устройства): чеки привяжутся сами."
)

# downloads (dashboard/export.py)
EXPORT_CSV = "CSV"
EXPORT_XLSX = "Excel"
EXPORT_HINT = "Скачать таблицу с выбранными фильтрами"
EXPORT_FILTERS = "Фильтры"
EXPORT_FILTER = "Фильтр"
EXPORT_VALUE = "Значение"
EXPORT_DATA = "Данные"
EXPORT_CUT = "Показаны первые {shown} из {total} диалогов: сузьте период или фильтры."
EXPORT_MADE = "Выгружено"
EXPORT_USER = "Пользователь"
EXPORT_BAD = "Неверный параметр выгрузки: {error}"
EXPORT_PERIOD = "Период"
DAILY_TABLE = "Показатели по дням"

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
    "attempts": "Попыток",
    "is_enabled": "Вкл.",
    "last_seen_at": "На связи",
    "queue": "Очередь",
    "disk": "Диск",
    "last_health_at": "Отчёт",
    "subscription": "Подписка",
    "source": "Откуда",
    "operator": "Кассир",
    "receipts_matched": "Чеков с диалогом",
    "check_with_upsell": "Ср. чек с допродажей, ₽",
    "check_without_upsell": "Ср. чек без допродажи, ₽",
    "upsells_confirmed": "Допродаж в чеках",
    "upsell_revenue": "Выручка допродаж, ₽",
    "contradictions": "Расхождений",
    "printed_at": "Время чека",
    "kkt_reg_id": "ККТ",
    "fiscal_document_number": "ФД №",
    "total_sum": "Сумма, ₽",
    "created_at": "Получен",
    "seller": "Продавец",
    "role": "Кто",
    "seconds": "Секунд",
    "dialogue_id": "ID диалога",
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
GIVEN_UP = "Брошено после {attempts} попыток (с последней ошибкой)"
DEAD_LETTERS = "Недоставленные сообщения (dead letter)"
DEAD_LETTERS_NOTE = "Число — нижняя граница по одной выборке без подтверждения (до 1000 сообщений)."
UNAVAILABLE = "недоступно"
NOTHING = "Нет."

# errors
PAGE_FAILED_TITLE = "Страница недоступна"
PAGE_FAILED = "Не удалось получить данные: {error}. Попробуйте обновить страницу позже."

# sellers, roles, background speech (issue 20)
SELLERS = "Продавцы"
SELLER_RANKING = "Сравнение продавцов"
SELLER_DEFAULT = analytics.SELLER_DEFAULT  # one spelling for the API, digest and pages
SELLERS_HINT = (
    "Продавцов система узнаёт по голосу: голос, который снова и снова звучит на кассе "
    "со стороны продавца. Дайте им имена; если один человек попал в список дважды, "
    "объедините записи."
)
NO_SELLERS = "Голоса продавцов ещё не выучены."
SELECT_SELLER = "Продавец"
SELLER_NEW_NAME = "Новое имя"
RENAME = "Переименовать"
MERGE_INTO = "Объединить с"
MERGE = "Объединить"
SELLER_RENAMED = "Продавец переименован: {name}."
SELLERS_MERGED = "Записи объединены: {source} → {target}."
SELLER_UNKNOWN = "Нет такого продавца (или он уже объединён с другим)."
SELLER_OTHER_POINT = "Объединять можно только продавцов одной точки."
SELLER_NAME_TOO_LONG = "Имя длиннее {limit} символов."
SPEAKER_ROLES = {"seller": "Продавец", "customer": "Покупатель", "other": "Фон"}
ROLE_COLOURS = {"seller": "#e3f0ff", "customer": "#fff3d6", "other": "#eeeeee"}
BACKGROUND = "Фоновая речь (радио, ТВ), отброшенная до расшифровки"
