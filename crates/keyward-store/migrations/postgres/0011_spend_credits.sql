-- A batch of credit spends decided in one statement, so that a group commit of spends
-- (keyward-store keys::spend_credits_committed) is one round trip and one implicit commit rather
-- than begin, lock-and-read, write and commit. The same decision as keys::spend_credits_batch:
-- the balances are locked in id order (concurrent batches cannot deadlock), then each spend, in
-- arrival order, is decided on what the earlier ones left; an insufficient balance spends
-- nothing for that request. Outcomes: 0 spent (balance = credits left), 1 refused (balance =
-- the balance refused on), 2 unlimited, 3 no such live key.
create function keyward_spend_credits(key_ids text[], costs bigint[])
returns table (spend_index integer, outcome smallint, balance bigint)
language plpgsql
as $$
declare
    v_credits text;
    v_left bigint;
begin
    perform 1 from credits c
    where c.id in (
        select k.credits_id from keys k where k.id = any (key_ids) and k.deleted_at is null
    )
    order by c.id
    for update;
    for i in 1 .. coalesce(array_length(key_ids, 1), 0) loop
        spend_index := i;
        select c.id, c.remaining into v_credits, v_left
        from keys k join credits c on c.id = k.credits_id
        where k.id = key_ids[i] and k.deleted_at is null;
        if not found then
            outcome := 3;
            balance := null;
        elsif v_left is null then
            outcome := 2;
            balance := null;
        elsif v_left < costs[i] then
            outcome := 1;
            balance := v_left;
        else
            update credits set remaining = remaining - costs[i] where id = v_credits
            returning remaining into balance;
            outcome := 0;
        end if;
        return next;
    end loop;
end
$$;
