"""What ``anniversary check`` says about a campaign's statement for the record (README:
The statement for the record): the letter's templates render in every language for
every year checked, every row of the targets file is valid, and every region the
subscribers live in has a target (else a warning names it: its subscribers can open the
page but not send)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from scheduler.config import CampaignConfig, Config
from scheduler.config.action import LETTER_MAX
from scheduler.content.action import ACTION, ACTION_PARTS, LetterTemplates
from scheduler.content.targets import TargetsError, read_targets
from scheduler.errors import TemplateProblem

#: names the letter must survive: none, markup, an apostrophe, another script
SAMPLE_NAMES = ("", "Ana <b>Smith</b> & Co", "O'Brien", "Анна")


def check_action(
    config: Config, campaign: CampaignConfig, years: range, regions: Mapping[str, int] | None = None
) -> Iterator[tuple[str, str, bool]]:
    """(where, what, is a warning) for each problem of the campaign's action; nothing
    for a campaign without one. ``regions``: active subscribers by region, when the
    database is at hand."""
    if campaign.action is None:
        return
    path = config.base_dir / campaign.action.targets
    try:
        targets = read_targets(path)
    except TargetsError as exc:
        for problem in exc.problems:
            where, _, what = problem.partition(": ")
            yield where, what, False
        targets = None
    letters = LetterTemplates(config, campaign)
    for language in campaign.languages:
        missing = [p for p in ACTION_PARTS if not letters.set.path_of(language, ACTION, p).is_file()]
        if missing:
            where = str(letters.set.path_of(language, ACTION, missing[0]))
            yield (
                where,
                f"the letter has no {language} template (the letter needs {ACTION}.subject.j2 and {ACTION}.txt.j2)",
                False,
            )
            continue
        for year in years:
            for name in SAMPLE_NAMES:
                try:
                    letter = letters.render(year, name, language)
                except TemplateProblem as exc:
                    text = str(exc)
                    where, _, what = text.partition(": ")
                    yield where, f"{what} (letter, {year})", False
                    break
                if len(letter.text) > LETTER_MAX:
                    where = str(letters.set.path_of(language, ACTION, "txt"))
                    yield (
                        where,
                        f"the letter is {len(letter.text)} characters in {year}; at most {LETTER_MAX} can be sent",
                        False,
                    )
                    break
            else:
                continue
            break
    if targets is not None and regions:
        for region, count in sorted(regions.items()):
            if region and not targets.covers(region):
                yield (
                    str(path),
                    f"{count} subscriber(s) live in {region}, which has no target: they cannot send the letter",
                    True,
                )
