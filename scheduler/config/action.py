"""``[campaign.action]``: the statement for the record (README: The statement for the
record). Its names are a contract: ``targets``, ``locked`` and ``per_target_per_hour``.

The letter's subject and body are templates beside the campaign's messages,
``{templates}/{language}/action.subject.j2`` and ``action.txt.j2``; the targets are a CSV
file the organizer maintains (:mod:`scheduler.content.targets`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: the longest letter a subscriber may send (README: The statement for the record)
LETTER_MAX = 5000


class ActionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the targets CSV (name,title,email,region,district,language), relative to config.toml
    targets: Path
    #: true: the letter is sent as the templates write it; subscribers cannot edit it
    locked: bool = False
    #: letters one target receives in any hour at most; the rest wait in order
    per_target_per_hour: Annotated[int, Field(ge=1, le=10_000)] = 60
    #: the subscriber gets a copy of what was sent in their name
    copy_to_subscriber: bool = True
    #: letters a submission sends at once from the queue (the daemon sends the rest)
    drain_per_request: Annotated[int, Field(ge=0, le=1000)] = 50
