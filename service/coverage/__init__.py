"""The editors' coverage reports: which questions the articles answer, which they don't, and which
passages nobody reaches. A product feature built on the answering core; no web code here."""
