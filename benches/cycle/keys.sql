ALTER TABLE account ADD CONSTRAINT account_owner_fk FOREIGN KEY (owner_id) REFERENCES person;
ALTER TABLE person ADD CONSTRAINT person_account_fk FOREIGN KEY (account_id) REFERENCES account;
