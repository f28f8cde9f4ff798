from builders import register, sign_in


def test_an_official_registers_a_person_and_reads_them_back(client, database):
    headers = sign_in(client, database)
    person = register(client, headers)
    assert len(person["pin"]) == 12
    response = client.get(f"/api/v1/persons/{person['pin']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Nguyễn Thị Minh Khai"
