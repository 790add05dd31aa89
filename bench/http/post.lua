-- wrk script: POST /ct/v1/add-chain with a 3 KB body (keep-alive).
wrk.method = "POST"
wrk.path = "/ct/v1/add-chain"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"chain":["' .. string.rep("A", 3000) .. '"]}'
