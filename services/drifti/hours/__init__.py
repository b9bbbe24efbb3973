"""Drifti's "Export hours to Tripletex" (D-H1) with the links it needs: users to employees
(D-E1), hourly rates to activities (D-A1) and jobs to projects (D-J2).

``linking`` and ``plan`` are pure (table-tested by rule id); ``export`` does the I/O against
Drifti, Tripletex, the link store and the decision topic; ``cli`` and ``http`` are its doors.
"""
