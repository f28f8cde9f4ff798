"""Households with plausible family structure, formed from persons already drawn from the pyramid.

The persons come first (so the population follows the census age-sex pyramid exactly, up to
sampling noise) and are then grouped, all with array operations:

1. **Couples.** Each adult is currently married with the census share for their age and sex (from
   the legal marriage ages, 18 for women and 20 for men). Married men and married women are each
   sorted by age plus noise and paired rank by rank, which reproduces the usual age gap between
   spouses (husbands a few years older), since married men are older than married women on the
   whole. Spouses are always of opposite sex and adult.
2. **Children.** Everyone under 18, and unmarried young adults with the share that still live with
   their parents, is a dependent child. Each draws the age its mother had at its birth (normal,
   clipped to 18-44) and is given to a random couple (or lone parent) whose mother's age matches,
   one-year bins; an empty bin passes the child to the next older one, so a mother is always at
   least 17 years older than her child. A father more than 15 years older is linked too.
   A few children under 15 live with grandparents instead (skipped-generation households).
3. **Grandparents.** Older people without children at home live, with a share by age and by
   whether they are a couple, in the household of an adult child 20-45 years younger (an empty
   bin passes to the next younger one). The head of that household is linked to them as to
   father and mother.
4. **Relatives.** Some unmarried adults live in the household of a couple as sibling or other
   relative; everyone else left alone is a single-person household.

The head of a couple's household is the husband, or the wife for a share of households; a single
adult heads their own household. No Python loop runs per person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from popreg.synth.arrays import BoolArray, FloatArray, IntArray
from popreg.synth.frequencies import Gap, HouseholdParameters

_BINS = 128
"""One-year age bins used to match children with mothers and older people with their children."""
_BINS_SPAN = 1 << 32
"""Multiplier that sorts candidates by bin first and by a random key within a bin."""
MINIMUM_PARENT_GAP = 15.0
"""A parent link is written only when the parent is at least this many years older than the child."""
_OLDER_PERSON_AGE = 55.0


class Relationship(IntEnum):
    """Relationship to the head of household, as stored (lower-case names are the stored codes)."""

    HEAD = 0
    SPOUSE = 1
    CHILD = 2
    PARENT = 3
    GRANDCHILD = 4
    SIBLING = 5
    OTHER = 6


RELATIONSHIP_CODES = tuple(member.name.lower() for member in Relationship)


@dataclass(frozen=True)
class HouseholdStructure:
    """Per person (index into the persons given): household, relationship and family links.

    ``father``, ``mother`` and ``spouse`` hold person indices, or -1. ``head`` holds the head of
    each household; households are numbered from 0 in the order of their first unit.
    """

    household: IntArray
    relationship: IntArray
    father: IntArray
    mother: IntArray
    spouse: IntArray
    head: IntArray

    @property
    def household_count(self) -> int:
        return len(self.head)


def _clipped_normal(rng: np.random.Generator, gap: Gap, size: int) -> FloatArray:
    return np.clip(rng.normal(gap.mean, gap.sd, size), gap.low, gap.high)


def _assign_by_bin(
    rng: np.random.Generator, wanted: IntArray, offered: IntArray, *, towards_older: bool, evenly: bool = False
) -> IntArray:
    """For each item wanting an age bin, a candidate among those offering that bin.

    ``offered`` is the bin of each candidate; the result indexes the candidates, or is -1 when no
    bin in the allowed direction has any. An item whose bin is empty moves to the nearest non-empty
    bin towards older ages (``towards_older``) or towards younger ones, which keeps every age gap
    at least as large as the one drawn. Candidates are drawn at random, or, ``evenly``, dealt in
    turn in a random order, so that the candidates of a bin receive as equal numbers as possible.
    """
    if len(offered) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    shuffled = offered * _BINS_SPAN + rng.integers(0, _BINS_SPAN, len(offered))
    order = np.argsort(shuffled if evenly else offered, kind="stable")
    counts = np.bincount(offered, minlength=_BINS)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    bins = np.arange(_BINS)
    if towards_older:
        nearest = np.minimum.accumulate(np.where(counts > 0, bins, _BINS)[::-1])[::-1]
    else:
        nearest = np.maximum.accumulate(np.where(counts > 0, bins, -1))
    chosen_bin = nearest[np.clip(wanted, 0, _BINS - 1)]
    found = (chosen_bin >= 0) & (chosen_bin < _BINS)
    safe_bin = np.where(found, chosen_bin, 0)
    if evenly:
        # The rank of each item among the items of its bin, dealt round the bin's candidates.
        by_bin = np.argsort(safe_bin, kind="stable")
        wanted_counts = np.bincount(safe_bin, minlength=_BINS)
        wanted_starts = np.concatenate([[0], np.cumsum(wanted_counts)[:-1]])
        rank = np.empty(len(wanted), dtype=np.int64)
        rank[by_bin] = np.arange(len(wanted)) - wanted_starts[safe_bin[by_bin]]
        pick = starts[safe_bin] + rank % np.maximum(counts[safe_bin], 1)
    else:
        pick = starts[safe_bin] + (rng.random(len(wanted)) * counts[safe_bin]).astype(np.int64)
    return np.where(found, order[np.minimum(pick, len(order) - 1)], -1)


def _age_bin(age: FloatArray) -> IntArray:
    return np.clip(age, 0, _BINS - 1).astype(np.int64)


def form_households(
    rng: np.random.Generator, age: FloatArray, female: BoolArray, parameters: HouseholdParameters
) -> HouseholdStructure:
    """Group living persons (exact ages in years, sex) into households; see the module docstring."""
    size = len(age)
    father = np.full(size, -1, dtype=np.int64)
    mother = np.full(size, -1, dtype=np.int64)
    spouse = np.full(size, -1, dtype=np.int64)

    # 1. Couples, paired by rank of age plus noise.
    married_share = np.where(female, parameters.married_share[1].at(age), parameters.married_share[0].at(age))
    minimum_age = np.where(female, parameters.minimum_marriage_age[1], parameters.minimum_marriage_age[0])
    married = (age >= minimum_age) & (rng.random(size) < married_share)
    men = rng.permutation(np.flatnonzero(married & ~female))
    women = rng.permutation(np.flatnonzero(married & female))
    couples = min(len(men), len(women))
    men, women = men[:couples], women[:couples]
    noise = parameters.spouse_age_noise_sd
    husband = men[np.argsort(age[men] + rng.normal(0.0, noise, couples))]
    wife = women[np.argsort(age[women] + rng.normal(0.0, noise, couples))]
    spouse[husband] = wife
    spouse[wife] = husband

    # Units: couples first, then unmarried adults who do not live as someone's child.
    unmarried = spouse < 0
    with_parents = np.where(age < 18, 1.0, parameters.living_with_parents_share.at(age))
    dependent = unmarried & (rng.random(size) < with_parents)
    single = np.flatnonzero(unmarried & ~dependent)
    units = couples + len(single)
    first_adult = np.concatenate([husband, single])
    second_adult = np.concatenate([wife, np.full(len(single), -1, dtype=np.int64)])
    is_couple = np.arange(units) < couples
    unit_age = age[np.concatenate([wife, single])]
    female_head = rng.random(units) < parameters.female_head_share
    head_of_unit = np.where(is_couple & female_head, second_adult, first_adult)
    other_adult = np.where(is_couple & female_head, first_adult, second_adult)

    # 2. Children to parents by the mother's age at birth; a few to grandparents.
    children = np.flatnonzero(dependent)
    by_grandparents = (age[children] < 15) & (rng.random(len(children)) < parameters.raised_by_grandparents_share)
    low, high = parameters.lone_parent_ages
    single_age = age[single]
    male_share, female_share = parameters.lone_parent_share
    lone_parent = (
        (single_age >= low)
        & (single_age <= high)
        & (rng.random(len(single)) < np.where(female[single], female_share, male_share))
    )
    can_parent = np.concatenate([rng.random(couples) >= parameters.couples_without_children_share, lone_parent])
    parent_units = np.flatnonzero(can_parent)
    raised = children[~by_grandparents]
    wanted = _age_bin(age[raised] + _clipped_normal(rng, parameters.mother_age_at_birth, len(raised)))
    # Half the children are dealt evenly among the couples of their mother's age, half at random:
    # sibling counts then cluster at two, with families of one and of three or more as well.
    offered = _age_bin(unit_age[parent_units])
    dealt = rng.random(len(raised)) < 0.5
    chosen = np.empty(len(raised), dtype=np.int64)
    chosen[dealt] = _assign_by_bin(rng, wanted[dealt], offered, towards_older=True, evenly=True)
    chosen[~dealt] = _assign_by_bin(rng, wanted[~dealt], offered, towards_older=True)
    unit_of_child = parent_units[chosen]

    grandchildren = children[by_grandparents]
    grandparent_units = np.flatnonzero(unit_age >= parameters.grandparent_age_gap.low)
    wanted = _age_bin(age[grandchildren] + _clipped_normal(rng, parameters.grandparent_age_gap, len(grandchildren)))
    unit_of_grandchild = grandparent_units[
        _assign_by_bin(rng, wanted, _age_bin(unit_age[grandparent_units]), towards_older=True)
    ]

    unit_mother = np.where(is_couple, second_adult, np.where(female[first_adult], first_adult, -1))
    unit_father = np.where(is_couple, first_adult, np.where(female[first_adult], -1, first_adult))
    mother[raised] = unit_mother[unit_of_child]
    child_father = unit_father[unit_of_child]
    father_old_enough = (child_father >= 0) & (age[np.maximum(child_father, 0)] - age[raised] >= MINIMUM_PARENT_GAP)
    father[raised] = np.where(father_old_enough, child_father, -1)

    has_children = np.zeros(units, dtype=bool)
    has_children[unit_of_child] = True
    has_children[unit_of_grandchild] = True

    # 3. Older people without children at home join the household of a younger adult.
    host_of = np.full(units, -1, dtype=np.int64)
    older = np.flatnonzero(~has_children & (unit_age >= _OLDER_PERSON_AGE))
    joins = rng.random(len(older)) < np.where(
        is_couple[older],
        parameters.older_with_child_couple.at(unit_age[older]),
        parameters.older_with_child_single.at(unit_age[older]),
    )
    older = older[joins]
    hosts = np.flatnonzero((age[head_of_unit] < _OLDER_PERSON_AGE) & (unit_age < _OLDER_PERSON_AGE))
    wanted = _age_bin(unit_age[older] - _clipped_normal(rng, parameters.parent_child_age_gap, len(older)))
    chosen = _assign_by_bin(rng, wanted, _age_bin(age[head_of_unit[hosts]]), towards_older=False)
    older, chosen = older[chosen >= 0], chosen[chosen >= 0]
    host_of[older] = hosts[chosen]
    # A household takes in the parents of its head once; further older units are the spouse's
    # parents, living there without a parent link to the head.
    first_to_host = np.unique(hosts[chosen], return_index=True)[1]
    linked = older[first_to_host]
    host_head = head_of_unit[host_of[linked]]
    for parent, links in ((unit_father[linked], father), (unit_mother[linked], mother)):
        gap_ok = (parent >= 0) & (age[np.maximum(parent, 0)] - age[host_head] >= MINIMUM_PARENT_GAP)
        links[host_head[gap_ok]] = parent[gap_ok]

    # 4. Some unmarried adults live with a couple as sibling or other relative.
    is_host = np.zeros(units, dtype=bool)
    is_host[host_of[older]] = True
    loose = np.flatnonzero(~is_couple & ~has_children & ~is_host & (host_of < 0) & (unit_age < _OLDER_PERSON_AGE))
    loose = loose[rng.random(len(loose)) < parameters.unmarried_joins_relatives_share]
    couple_hosts = np.flatnonzero(is_couple & (host_of < 0) & (unit_age < _OLDER_PERSON_AGE))
    if len(couple_hosts):
        host_of[loose] = couple_hosts[rng.integers(0, len(couple_hosts), len(loose))]

    # Households: every unit that lives on its own.
    is_household = host_of < 0
    household_of_unit = np.cumsum(is_household) - 1
    household_of_unit = np.where(is_household, household_of_unit, household_of_unit[np.maximum(host_of, 0)])
    household = np.full(size, -1, dtype=np.int64)
    relationship = np.full(size, int(Relationship.OTHER), dtype=np.int64)
    household[first_adult] = household_of_unit
    household[wife] = household_of_unit[:couples]
    household[raised] = household_of_unit[unit_of_child]
    household[grandchildren] = household_of_unit[unit_of_grandchild]

    relationship[head_of_unit] = Relationship.HEAD
    relationship[other_adult[is_couple]] = Relationship.SPOUSE
    relationship[raised] = Relationship.CHILD
    relationship[grandchildren] = Relationship.GRANDCHILD
    joined_older = np.flatnonzero((host_of >= 0) & (unit_age >= _OLDER_PERSON_AGE))
    relationship[first_adult[joined_older]] = Relationship.PARENT
    relationship[second_adult[joined_older][is_couple[joined_older]]] = Relationship.PARENT
    joined_loose = np.flatnonzero((host_of >= 0) & (unit_age < _OLDER_PERSON_AGE))
    relative = first_adult[joined_loose]
    close_in_age = np.abs(age[relative] - age[head_of_unit[host_of[joined_loose]]]) <= 12
    relationship[relative] = np.where(close_in_age, Relationship.SIBLING, Relationship.OTHER)

    return HouseholdStructure(
        household=household,
        relationship=relationship,
        father=father,
        mother=mother,
        spouse=spouse,
        head=head_of_unit[is_household],
    )
