-- Monitoring queries copied verbatim from the original deployment guide
-- (shared/seed, sections 7, 8 and 9). tests/test_seed_sql.py runs them unchanged.

-- section 7, test 6
SELECT COUNT(*) FROM audio_chunks;
SELECT COUNT(*) FROM dialogues;
SELECT status, COUNT(*) FROM audio_chunks GROUP BY status;
SELECT asr_status, COUNT(*) FROM dialogues GROUP BY asr_status;

-- section 8
-- Статус обработки чанков
SELECT
    status,
    COUNT(*) as count,
    MAX(created_at) as last_created
FROM audio_chunks
GROUP BY status;

-- Застрявшие чанки (должно быть 0)
SELECT COUNT(*)
FROM audio_chunks
WHERE status = 'PROCESSING'
  AND created_at < NOW() - INTERVAL '10 minutes';

-- Статус диалогов
SELECT
    asr_status,
    analysis_status,
    COUNT(*) as count
FROM dialogues
GROUP BY asr_status, analysis_status;

-- Последние диалоги с анализом
SELECT
    d.dialogue_id,
    dt.text,
    da.attempted,
    da.quality_score
FROM dialogues d
LEFT JOIN dialogue_transcripts dt ON d.dialogue_id = dt.dialogue_id
LEFT JOIN dialogue_upsell_analysis da ON d.dialogue_id = da.dialogue_id
ORDER BY d.created_at DESC
LIMIT 10;

-- section 9
SELECT device_id, is_enabled FROM devices;
SELECT status, COUNT(*) FROM audio_chunks GROUP BY status;
