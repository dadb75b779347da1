# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The plan and audit callbacks with phone number buys and releases: rows, the money line, audit lines."""

from __future__ import annotations

from ansible_collections.piopiy.voice.plugins.callback.audit import build_lines
from ansible_collections.piopiy.voice.plugins.callback.plan import Plan, render_markdown, rows_as_text, rows_from_result

NEW = '+19499810000'
OLD = '+19499800003'


def bought(number, number_id=None):
    return {'op': 'buy', 'resource': 'phone_number', 'phone_number': number, 'id': number_id, 'before': None,
            'after': {'phone_number': number, 'id': number_id, 'status': 'purchased'}}


def released(number, agent_id=None):
    before = {'phone_number': number, 'id': 'num_3', 'status': 'purchased', 'agent_id': agent_id}
    return {'op': 'release', 'resource': 'phone_number', 'phone_number': number, 'id': 'num_3', 'before': before, 'after': None}


def test_a_buy_and_a_release_are_rows_of_their_own_kind():
    buy, release = rows_from_result({'changed': True, 'operations': [bought(NEW), released(OLD, 'agent_dev')]},
                                    {'agent_dev': 'dev-support-agent'})
    assert (buy['resource'], buy['action'], buy['phone_number'], buy['before_text'], buy['after_text']) == (
        'phone_number', 'buy', NEW, '(not purchased)', 'purchased')
    assert buy['agent'] is None and buy['after'] == {'id': None, 'status': 'purchased'}
    assert (release['agent'], release['before_text'], release['after_text']) == ('dev-support-agent', 'purchased', '(not purchased)')


def test_plan_md_marks_money_moves_so_a_reviewer_cannot_miss_them():
    plan = Plan()
    plan.add_result('dev', {'changed': True, 'operations': [bought(NEW), released(OLD)]}, 'Buy the numbers')
    plan.add_result('prod', {'changed': False, 'operations': []}, 'Buy the numbers')
    data = plan.as_data(check_mode=True)
    text = render_markdown(data, rows_as_text(plan))
    assert '**Money**: this run would buy 1 number(s): +19499810000 (dev); would release 1 number(s): +19499800003 (dev).' in text
    assert '| dev | | +19499810000 | (not purchased) | purchased | **BUY** (spends money) |' in text
    assert '| dev | | +19499800003 | purchased | (not purchased) | **RELEASE** (the number may be lost) |' in text
    assert [change['action'] for change in data['environments'][0]['changes']] == ['release', 'buy']  # sorted by number
    applied = render_markdown(plan.as_data(check_mode=False), rows_as_text(plan))
    assert '**Money**: this run bought 1 number(s): +19499810000 (dev); released 1 number(s): +19499800003 (dev).' in applied


def test_no_money_line_without_buys_or_releases():
    plan = Plan()
    plan.add_result('dev', {'changed': False, 'operations': []}, 'Buy the numbers')
    assert '**Money**' not in render_markdown(plan.as_data(check_mode=True), rows_as_text(plan))


def test_an_audit_line_per_buy_and_release_names_the_number():
    lines = build_lines({'host': 'dev'}, {'changed': True, 'operations': [bought(NEW, 'num_0'), released(OLD)]}, False)
    assert [(line['operation'], line['resource'], line['phone_number']) for line in lines] == [
        ('buy', 'phone_number', NEW), ('release', 'phone_number', OLD)]
    assert lines[0]['after'] == {'phone_number': NEW, 'id': 'num_0', 'status': 'purchased'} and lines[1]['after'] is None
