"""Operations: backups and restore, the doctor, the metrics read at scrape time, the database
schema."""
