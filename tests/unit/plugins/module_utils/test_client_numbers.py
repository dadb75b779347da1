# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The client's number calls against the real emulator: search pages, a buy never sent twice, a release the API lacks."""

from __future__ import annotations

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    AmbiguousWriteError,
    MissingCallError,
    PiopiyAPIError,
    PiopiyClient,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_phone_number import settle_buy, settle_release

ACME_KEY = 'pk_test_acme_0001'
OTHER_KEY = 'pk_test_other_0001'
FOR_SALE = '+19499810000'
OWNED = '+19499800001'
BUY = '/v1/buy-phone-number'


@pytest.fixture
def client(emulator, sleeps):
    emulator.clear_log()
    return PiopiyClient(ACME_KEY, emulator.api_base, timeout=60, sleep=sleeps)  # a loaded machine never times a request out


def calls(emulator):
    return [(entry['method'], entry['path'], entry['status']) for entry in emulator.requests_log()['requests']]


def writes_and_reads(emulator):
    """The calls in order, with each run of reads of one list (its pages) as one read."""
    folded = []
    for call in calls(emulator):
        if not folded or call[0] != 'GET' or folded[-1] != call[:2]:
            folded.append(call[:2])
    return folded


def bought(emulator, workspace='ws_acme'):
    return next(item for item in emulator.state()['workspaces'] if item['id'] == workspace)['bought_numbers']


def buy(client, number=FOR_SALE):
    """A buy as piopiy_phone_number sends it: a lost answer is settled by reading the purchased list."""
    return client.buy_number(number, settle=lambda: settle_buy(client, number))


def release(client, number):
    return client.release_number(number, settle=lambda: settle_release(client, number))


def test_a_search_page_asks_for_the_region_and_a_limit_and_gives_the_next_cursor(emulator, client):
    page = client.available_numbers_page('US', limit=2)
    assert [item['number'] for item in page.items] == [FOR_SALE, '+19499810001'] and page.next_cursor
    following = client.available_numbers_page('US', page.next_cursor, limit=2)
    assert following.items[0]['number'] == '+19499810002'
    assert [entry['query'] for entry in emulator.requests_log()['requests']][0] == 'region=US&limit=2'


def test_a_buy_is_sent_once(emulator, client):
    assert buy(client)['number'] == FOR_SALE
    assert calls(emulator) == [('POST', BUY, 201)]
    assert bought(emulator) == [FOR_SALE]


def test_a_buy_whose_answer_is_lost_is_found_in_the_purchased_list_and_never_sent_again(emulator, client):
    emulator.faults(drop_next_posts=1, only='POST ' + BUY)
    assert buy(client)['number'] == FOR_SALE
    assert writes_and_reads(emulator) == [('POST', BUY), ('GET', '/v1/purchased-phone-numbers')]
    assert bought(emulator) == [FOR_SALE]


def test_a_buy_refused_with_a_5xx_is_sent_again_only_once_the_purchased_list_shows_it_was_not_applied(emulator, client):
    emulator.faults(fail_next_5xx=1, status_5xx=503, only='POST ' + BUY)
    buy(client)
    assert writes_and_reads(emulator) == [('POST', BUY), ('GET', '/v1/purchased-phone-numbers'), ('POST', BUY)]
    assert bought(emulator) == [FOR_SALE]


def test_a_rate_limited_buy_is_sent_again(emulator, client):
    emulator.faults(fail_next_429=1, retry_after=0, only='POST ' + BUY)
    buy(client)
    assert [call[2] for call in calls(emulator)] == [429, 201]


def test_a_buy_answered_success_with_an_empty_body_is_settled_not_resent(emulator, client):
    emulator.faults(odd_next=1, odd_body='empty', only='POST ' + BUY)
    assert buy(client)['number'] == FOR_SALE
    assert [call[0] for call in calls(emulator)].count('POST') == 1


def test_a_number_no_longer_for_sale_fails_naming_it_and_buys_nothing(emulator, client):
    PiopiyClient(OTHER_KEY, emulator.api_base, timeout=60).buy_number(FOR_SALE)
    with pytest.raises(PiopiyAPIError) as error:
        buy(client)
    assert error.value.status == 409 and not isinstance(error.value, AmbiguousWriteError)
    assert '+19499810000 is not for sale (any more)' in str(error.value)
    assert bought(emulator) == []


def test_a_buy_whose_read_back_fails_stays_ambiguous(emulator, client):
    emulator.faults(drop_next_posts=1, fail_next_5xx=0)

    def unreadable():
        raise PiopiyAPIError('GET', '/purchased-phone-numbers', status=503)
    with pytest.raises(AmbiguousWriteError) as error:
        client.buy_number(FOR_SALE, settle=unreadable)
    assert 'read-back' in str(error.value)


def test_a_release_gives_the_number_back(emulator, client):
    assert release(client, OWNED)['status'] == 'released'
    assert OWNED not in [item['number'] for item in client.list_purchased_numbers()]


def test_a_release_whose_answer_is_lost_is_settled_by_the_purchased_list(emulator, client):
    emulator.faults(drop_next_posts=1, only='POST /v1/release-phone-number')
    release(client, OWNED)
    assert writes_and_reads(emulator) == [('POST', '/v1/release-phone-number'), ('GET', '/v1/purchased-phone-numbers')]


@pytest.mark.parametrize('status', [404, 405, 501])
def test_a_missing_release_call_says_so_and_releases_nothing(emulator, client, status):
    emulator.faults(release_call_status=status)
    with pytest.raises(MissingCallError) as error:
        release(client, OWNED)
    text = str(error.value)
    assert 'no call to release a number' in text and 'buying and listing numbers still work' in text
    assert 'api_base' not in text
    assert OWNED in [item['number'] for item in client.list_purchased_numbers()]
