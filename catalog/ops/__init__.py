"""Operations: the job queue, schedules and the operators' dashboard figures."""
