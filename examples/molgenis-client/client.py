# Uses the MOLGENIS Python client (molgenis-emx2-pyclient) as EMX2's
# documentation tells script authors to: signed in with this job's token.
import os

from molgenis_emx2_pyclient import Client

with Client(os.environ["MOLGENIS_SERVER_URL"], token=os.environ["MOLGENIS_TOKEN"]) as client:
    print(client.status)
    with open(os.environ["OUTPUT_FILE"], "w") as out:
        out.write("server version: %s\n" % client.version)
        out.write("schemas: %s\n" % ",".join(client.schema_names))
