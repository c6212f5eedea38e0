"""The knowledge corpus and its built index, kept in the database like everything else.

Every server process, on every machine, loads the newest ``KnowledgeIndex`` into memory; a load
writes documents and a new index in one transaction, so nobody ever sees half of one.
"""

from __future__ import annotations

from django.db import models


class KnowledgeDocument(models.Model):
    doc_id = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16)
    title = models.CharField(max_length=200)
    url = models.CharField(max_length=500)
    language = models.CharField(max_length=2)
    summary = models.TextField()
    body = models.TextField()
    tags = models.JSONField(default=list)
    styrk08 = models.CharField(max_length=4, blank=True, default="")
    nus = models.CharField(max_length=6, blank=True, default="")
    updated = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["doc_id"]

    def __str__(self) -> str:
        return self.doc_id


class KnowledgeIndex(models.Model):
    """One build: which embedder, and a vector per chunk (float32, row-major)."""

    created_at = models.DateTimeField(auto_now_add=True)
    embedder = models.CharField(max_length=300)
    dimensions = models.PositiveIntegerField()
    document_count = models.PositiveIntegerField()
    # [[document id, chunk text], ...] in the order of the vector rows.
    chunks = models.JSONField()
    vectors = models.BinaryField()

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"index {self.pk} ({self.embedder}, {self.document_count} documents)"


class SuggestionCount(models.Model):
    """Counts only, per day and document: shown in a chat's panel, and sent into it.

    A document is counted once per chat for each; ignored = shown - sent.
    """

    day = models.DateField()
    doc_id = models.CharField(max_length=200)
    shown = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "doc_id"], name="suggestion_day_doc")]
        ordering = ["-day", "doc_id"]

    def __str__(self) -> str:
        return f"{self.day} {self.doc_id}: {self.shown} shown, {self.sent} sent"
