# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWX credential type of docs/awx/: its inputs, its injectors, and the playbook that creates it from them."""

from __future__ import annotations

import pathlib

import jinja2
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
AWX = ROOT / 'docs' / 'awx'


def load(name):
    return yaml.safe_load((AWX / name).read_text(encoding='utf-8'))


def render_injectors(inputs):
    """The environment AWX gives a job for a credential with these input values (AWX renders injectors with Jinja)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return {name: environment.from_string(template).render(**inputs) for name, template in load('credential-type-injectors.yml')['env'].items()}


def test_the_key_is_a_required_secret_input_and_the_api_base_is_optional():
    fields = {field['id']: field for field in load('credential-type-inputs.yml')['fields']}
    assert set(fields) == {'piopiy_api_key', 'piopiy_api_base'}
    assert fields['piopiy_api_key']['secret'] is True and not fields['piopiy_api_base'].get('secret')
    assert all(field['type'] == 'string' and field['label'] for field in fields.values())
    assert load('credential-type-inputs.yml')['required'] == ['piopiy_api_key']


def test_the_injectors_set_exactly_the_variables_the_modules_read():
    injectors = load('credential-type-injectors.yml')
    assert list(injectors) == ['env'] and set(injectors['env']) == {'PIOPIY_API_KEY', 'PIOPIY_API_BASE'}
    fragment = (ROOT / 'plugins' / 'doc_fragments' / 'piopiy.py').read_text(encoding='utf-8')
    assert 'E(PIOPIY_API_KEY)' in fragment and 'E(PIOPIY_API_BASE)' in fragment


def test_the_injectors_render_the_inputs_and_default_the_api_base():
    assert render_injectors({'piopiy_api_key': 'pk_test_x', 'piopiy_api_base': 'http://127.0.0.1:8080/v1'}) == {
        'PIOPIY_API_KEY': 'pk_test_x', 'PIOPIY_API_BASE': 'http://127.0.0.1:8080/v1'}
    assert render_injectors({'piopiy_api_key': 'pk_test_x', 'piopiy_api_base': ''})['PIOPIY_API_BASE'] == 'https://api.piopiy.com/v1'


def test_the_playbook_creates_both_types_from_their_files():
    (play,) = load('create-credential-type.yml')
    (task,) = play['tasks']
    arguments = task['awx.awx.credential_type']
    assert (arguments['kind'], arguments['state']) == ('cloud', 'present')
    assert "lookup('ansible.builtin.file', item.prefix ~ '-inputs.yml') | from_yaml" in arguments['inputs']
    assert "lookup('ansible.builtin.file', item.prefix ~ '-injectors.yml') | from_yaml" in arguments['injectors']
    prefixes = {item['name']: item['prefix'] for item in task['loop']}
    assert prefixes == {'Piopiy Voice API': 'credential-type', 'Piopiy Voice API keys': 'credential-type-keys'}
    for prefix in prefixes.values():
        assert (AWX / (prefix + '-inputs.yml')).is_file() and (AWX / (prefix + '-injectors.yml')).is_file()
